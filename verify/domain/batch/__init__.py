"""Result batches: the template's columns, the cell parsers, the row checks and the batch outcome."""

"""Reading uploaded spreadsheets (CSV, XLSX) into raw rows, with hard limits. May import the
domain layer, nothing above it."""

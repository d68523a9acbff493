"""Page texts in Chinese (first) and English, and locale-aware date formatting.

Every user-visible string of the pages lives here, except the texts of verification outcomes and
checks, which the API shares and which live with them in ``verify.domain.verdicts``. A test
checks that every key has both languages.
"""

from __future__ import annotations

from datetime import date

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

TEXT: dict[str, tuple[str, str]] = {
    "console_title": ("管理台", "Console"),
    "console_sign_in": ("登录管理台", "Sign in to the console"),
    "console_sign_in_note": (
        "供评价机构、鉴定中心与监管部门工作人员使用；公众查询证书无需登录。",
        "For staff of institutions, reviewing centres and regulators; the public never needs to sign in.",
    ),
    "console_login": ("账号", "Login"),
    "console_password": ("密码", "Password"),
    "console_sign_out": ("退出登录", "Sign out"),
    "console_home": ("管理台首页", "Console home"),
    "console_role": ("角色", "Role"),
    "console_institution": ("机构代码", "Institution code"),
    "console_jurisdiction": ("管辖范围", "Jurisdiction"),
    "console_why_credentials_expired": (
        "登录已过期，请重新登录。",
        "Your sign-in has expired; please sign in again.",
    ),
    "console_why_credentials_revoked": (
        "登录已结束或账户已停用。",
        "Your sign-in ended or the account is disabled.",
    ),
    "console_why_unauthorized": ("请先登录。", "Please sign in first."),
    "console_why_signed_out": ("已退出登录。", "You are signed out."),
    "console_screens": ("可用功能", "What you can do"),
    "console_nav_upload": ("上传成绩批次", "Upload a result batch"),
    "console_nav_review": ("审核队列", "Review queue"),
    "console_nav_batches": ("批次列表", "Batches"),
    "console_nav_revoke": ("证书撤销与恢复", "Revoke or reinstate a certificate"),
    "console_nav_institutions": ("机构暂停与恢复", "Suspend or resume an institution"),
    # batch verification (verify.http.verifier_pages)
    "console_nav_verify_batch": ("批量查验证书", "Verify a file of certificates"),
    "vb_note": (
        "上传 CSV 或 XLSX 文件：每行填写证书编号与姓名、证件号码与姓名，或扫码得到的二维码链接；其余各列原样返回。"
        "每次上传都会查验全部行，计入本账户当日的查验行数，并得到一份签名回执。",
        "Upload a CSV or XLSX file: each row gives a certificate number and the name, an ID number and "
        "the name, or a scanned QR link; any other column comes back as it was. Every upload verifies "
        "all its rows, counts against the account's rows for today and gets a signed receipt.",
    ),
    "vb_file": ("查验文件（CSV 或 XLSX）", "File to verify (CSV or XLSX)"),
    "vb_answer_as": ("结果形式", "Answer as"),
    "vb_format_page": ("在页面查看", "Show on this page"),
    "vb_format_xlsx": ("下载 XLSX", "Download XLSX"),
    "vb_format_csv": ("下载 CSV", "Download CSV"),
    "vb_format_json": ("下载 JSON", "Download JSON"),
    "vb_submit": ("上传并查验", "Upload and verify"),
    "vb_results": ("批量查验结果", "Verification results"),
    "vb_summary": ("结果汇总", "Summary"),
    "vb_total": ("共 {rows} 行", "{rows} rows in all"),
    "vb_rows": ("逐行结果", "Row by row"),
    "vb_filter": ("按结果筛选", "Filter by verdict"),
    "vb_filter_all": ("全部", "All"),
    "vb_row": ("行号", "Row"),
    "vb_verdict": ("查验结果", "Verdict"),
    "vb_number": ("证书编号", "Certificate No."),
    "vb_name": ("姓名", "Name"),
    "vb_id_masked": ("证件号码（脱敏）", "ID (masked)"),
    "vb_occupation": ("职业（工种）", "Occupation"),
    "vb_level": ("等级", "Level"),
    "vb_issuer": ("发证机构", "Issuer"),
    "vb_notes": ("说明", "Notes"),
    "vb_receipt": ("签名回执", "Signed receipt"),
    "vb_receipt_print": ("打印回执", "Print the receipt"),
    "vb_receipt_json": ("下载回执 JSON", "Download the receipt (JSON)"),
    "vb_again": ("查验另一个文件，或下载结果文件", "Verify another file, or download the answer"),
    "vb_again_note": (
        "如需 XLSX、CSV 或 JSON 格式的结果，请再次上传文件并选择下载格式；这会重新查验并生成新的回执。",
        "For the answer as an XLSX, CSV or JSON file, upload the file again and choose a download; "
        "that verifies it again and gives a new receipt.",
    ),
    "vb_note_revoked": ("已于 {date} 撤销", "revoked on {date}"),
    "vb_note_superseded": ("已由新证书 {number} 取代", "superseded by certificate {number}"),
    "vb_note_merged": ("发证机构已并入 {name}（{code}）", "the issuer merged into {name} ({code})"),
    "vb_note_claim": (
        "{field}：所填“{claimed}”，证书为“{actual}”",
        "{field}: claimed “{claimed}”, the certificate shows “{actual}”",
    ),
    "vb_field_occupation": ("职业", "Occupation"),
    "vb_field_level": ("等级", "Level"),
    "vb_note_others": ("该证件另有证书：{numbers}", "other certificates of this ID: {numbers}"),
    "receipt_title": ("批量查验回执", "Batch verification receipt"),
    "receipt_id": ("回执编号", "Receipt ID"),
    "receipt_issued_cst": ("签发时间（北京时间）", "Issued (China time, UTC+8)"),
    "receipt_issued_utc": ("签发时间（UTC）", "Issued (UTC)"),
    "receipt_account": ("查验账户", "Verifier account"),
    "receipt_version": ("服务版本", "Service version"),
    "receipt_rows": ("查验行数", "Rows verified"),
    "receipt_counts": ("各结果行数", "Rows per verdict"),
    "receipt_rows_n": ("行数", "Rows"),
    "receipt_request_sha256": ("所查验文件的 SHA-256", "SHA-256 of the file verified"),
    "receipt_results_root": ("结果根（Merkle 根）", "Results root (Merkle)"),
    "receipt_kid": ("回执密钥编号（kid）", "Receipt key id (kid)"),
    "receipt_signature": ("签名核验", "Signature"),
    "receipt_signature_ok": (
        "签名有效：本回执由本服务签发，内容未被改动。",
        "Signature valid: this service issued this receipt, and it is unaltered.",
    ),
    "receipt_signature_bad": (
        "签名无效（{reason}）：不能证明本回执由本服务签发且未被改动。",
        "Signature not valid ({reason}): nothing shows that this service issued this receipt unaltered.",
    ),
    "receipt_proves": (
        "本回执证明：上述账户于上述时间提交了 SHA-256 如上的文件，本服务对其各行给出的结果正是结果根所承诺的结果。"
        "回执不含任何行的内容，也不含持证人的姓名或证件号码；它不说明证书此后的状态，如需了解，请复查回执。",
        "This receipt proves that the account above sent the file with the SHA-256 above at that time, and "
        "that the service's answers to its rows are those the results root commits to. It holds no row's "
        "content and no holder's name or ID number; it says nothing of the certificates' status since: "
        "recheck the receipt for that.",
    ),
    "receipt_offline": (
        "离线核验：下载回执 JSON，去掉 signature 字段后按规范 JSON 序列化，在前面加上域标记“verify.receipt.v1”"
        "与一个 0 字节，再用公开密钥集中 kid 相同、purpose 为 receipt 的 Ed25519 公钥验证签名。"
        "详见本服务源代码中的 docs/RECEIPT-FORMAT.md。",
        "To check it offline: download the receipt JSON, drop its signature member, serialise the rest as "
        "canonical JSON, put the domain tag “verify.receipt.v1” and one zero byte before it, and verify the "
        "signature with the Ed25519 key of the published key set that has the same kid and purpose receipt. "
        "See docs/RECEIPT-FORMAT.md in the service's source.",
    ),
    "receipt_keys": ("公开密钥集", "Published key set"),
    "receipt_qr": ("扫码打开本回执页面", "Scan to open this receipt's page"),
    "receipt_print_hint": (
        "使用浏览器的“打印”功能，即可打印为一页 A4。",
        "Use the browser's Print to print it on one A4 page.",
    ),
    "console_no_batches": ("暂无批次。", "No batches yet."),
    "console_queue_empty": ("暂无待审核的批次。", "No batch awaits review."),
    "console_batch": ("批次", "Batch"),
    "console_batch_id": ("批次号", "Batch ID"),
    "console_institution_name": ("机构", "Institution"),
    "console_file": ("文件", "File"),
    "console_rows": ("行数", "Rows"),
    "console_state": ("状态", "State"),
    "console_warnings": ("提示", "Warnings"),
    "console_warnings_none": ("本批次没有提示。", "This batch has no warnings."),
    "console_submitted_at": ("提交时间", "Submitted at"),
    "console_submitted_by": ("提交人", "Submitted by"),
    "console_reviewed_by": ("审核人", "Reviewed by"),
    "console_reviewed_at": ("审核时间", "Reviewed at"),
    "console_decision": ("审核决定", "Decision"),
    "console_plan": ("考核计划", "Assessment plan"),
    "console_plan_ref": ("计划/备案编号", "Plan reference"),
    "console_plan_filed_on": ("考核计划备案日期", "Plan filed on"),
    "console_assessed_on": ("考核日期（多日考核填最后一天）", "Assessed on (the last day)"),
    "console_supervision_report_on": ("督导报告日期", "Supervision report dated"),
    "console_roster_size": ("名册人数", "Roster size"),
    "console_upload_file": ("成绩文件（CSV 或 XLSX）", "Result file (CSV or XLSX)"),
    "console_roster_file": ("考生名册（可选）", "Candidate roster (optional)"),
    "console_upload_note": (
        "上传后批次进入“待审核”，由鉴定中心审核通过后发布。任何一行不合格，整批都不会写入。",
        "An uploaded batch awaits review; it is published once a reviewing centre approves it. If any row is invalid, nothing is written.",
    ),
    "console_upload_submit": ("上传并提交审核", "Upload and submit for review"),
    "console_problems": ("逐行问题", "Problems by row"),
    "console_line": ("行号", "Line"),
    "console_column": ("列", "Column"),
    "console_code": ("代码", "Code"),
    "console_message": ("说明", "Message"),
    "console_reason": ("理由", "Reason"),
    "console_note": ("审核意见（可选）", "Note (optional)"),
    "console_withdraw": ("撤回批次", "Withdraw the batch"),
    "console_withdraw_reason": ("撤回原因（可选）", "Why it is withdrawn (optional)"),
    "console_approve": ("审核通过", "Approve"),
    "console_reject": ("驳回", "Reject"),
    "console_reject_reason": ("整批驳回理由", "Reason for the whole batch"),
    "console_row_reasons": ("逐行理由", "Reasons per row"),
    "console_row_reasons_hint": (
        "每行一条，写成“行号: 理由”，如“3: 证件号码与名册不符”。行号与上方提示表中的行号一致。",
        "One a line as 'row number: reason', e.g. '3: ID does not match the roster'. Row numbers are those of the table above.",
    ),
    "console_row_reasons_given": ("逐行驳回理由", "Row reasons given"),
    "console_done_uploaded": ("已上传，等待审核。", "Uploaded; it awaits review."),
    "console_done_unchanged": (
        "该文件此前已上传，未重复写入。",
        "This file was uploaded before; nothing was written again.",
    ),
    "console_done_withdrawn": ("批次已撤回。", "The batch is withdrawn."),
    "console_done_approved": (
        "已审核通过，签名程序将随后发布。",
        "Approved; the signer will publish it next.",
    ),
    "console_done_rejected": ("批次已驳回。", "The batch is rejected."),
    "console_done_revoked": ("已记录撤销决定。", "The revocation is recorded."),
    "console_done_superseded": ("已记录取代决定。", "The supersession is recorded."),
    "console_done_reinstated": ("已记录恢复决定。", "The reinstatement is recorded."),
    "console_done_suspended": ("已记录暂停决定。", "The suspension is recorded."),
    "console_done_resumed": ("已记录恢复决定。", "The resumption is recorded."),
    "console_certificate_number": ("证书编号", "Certificate No."),
    "console_event": ("决定", "Decision"),
    "console_event_revoked": ("撤销证书", "Revoke"),
    "console_event_superseded": ("由新证书取代", "Supersede by a new certificate"),
    "console_event_reinstated": ("恢复（复核撤销原决定）", "Reinstate (a review overturned it)"),
    "console_reason_category": ("原因类别（公开显示）", "Reason category (shown publicly)"),
    "console_reason_internal": ("理由：条款与事实（不公开）", "Reason: article and facts (internal)"),
    "console_document_ref": ("决定文号（可选）", "Document reference (optional)"),
    "console_effective": ("生效日期", "In force from"),
    "console_superseded_by": ("新证书编号（仅“取代”时填写）", "New certificate No. (supersession only)"),
    "console_record": ("记录决定", "Record the decision"),
    "console_choose": ("请选择", "Choose"),
    "console_find_institution": ("按机构代码查找", "Find by institution code"),
    "console_open": ("打开", "Open"),
    "console_current_status": ("当前状态", "Current status"),
    "console_status_decision": ("暂停或恢复评价活动", "Suspend or resume its assessments"),
    "console_public_record": ("公开信息页", "Public record"),
    "site_name": ("职业技能证书查验", "Skill Certificate Verification"),
    "site_tagline": (
        "河南省职业技能等级证书、专项职业能力证书免费查验",
        "Free verification of vocational skill certificates",
    ),
    "lang_switch": ("English", "中文"),
    "lang_switch_label": ("切换语言", "Switch language"),
    "skip_to_content": ("跳到正文", "Skip to content"),
    "lookup_title": ("证书查询", "Look up a certificate"),
    "by_number": ("按证书编号查询", "By certificate number"),
    "by_id": ("按证件号码查询（本人证书）", "By ID number (your own certificates)"),
    "number": ("证书编号", "Certificate No."),
    "number_hint": (
        "22 位职业技能等级证书编号（如 Y000041010012224000007）或 15 位专项职业能力证书编号",
        "22-character skill-level number (e.g. Y000041010012224000007) or 15-digit special ability number",
    ),
    "name": ("姓名", "Name"),
    "name_hint": ("与证书上的姓名一致", "As printed on the certificate"),
    "id_type": ("证件类型", "ID type"),
    "id_number": ("证件号码", "ID number"),
    "id_hint": (
        "仅用于查询，不会保存或显示完整号码",
        "Used for this lookup only; never stored or shown in full",
    ),
    "search": ("查询", "Search"),
    "scan_link": ("用摄像头扫描证书二维码", "Scan a certificate QR with the camera"),
    "results_title": ("查询结果", "Results"),
    "not_found_title": ("未找到证书", "No certificate found"),
    "try_again": ("重新查询", "Search again"),
    "privacy_note": (
        "查询结果只显示证件号码后四位。请勿通过链接分享他人证件号码。",
        "Results show only the last 4 characters of the ID number. Never share others' ID numbers in links.",
    ),
    "status_as_of": ("状态查询时间", "Status as of"),
    "checks": ("已完成的检查", "Checks done"),
    "check_format": ("格式", "Format"),
    "check_signature": ("数字签名", "Digital signature"),
    "check_status": ("证书状态", "Certificate status"),
    "holder_name": ("姓名", "Name"),
    "id_masked": ("证件号码", "ID No."),
    "occupation": ("职业名称", "Occupation"),
    "job": ("工种/职业方向", "Job"),
    "level": ("职业技能等级", "Skill level"),
    "issue_date": ("发证日期", "Issue date"),
    "certificate_no": ("证书编号", "Certificate No."),
    "institution": ("发证机构", "Issuing institution"),
    "status": ("状态", "Status"),
    "status_valid": ("有效", "valid"),
    "status_revoked": ("已撤销", "revoked"),
    "status_superseded": ("已被取代", "superseded"),
    "revoked_on": ("撤销日期", "Revoked on"),
    "revocation_reason": ("撤销原因类别", "Reason category"),
    "superseded_by": ("现行证书", "Current certificate"),
    "superseded_on": ("取代日期", "Superseded on"),
    "current_version": ("现行版本", "Current version"),
    "view_current_version": ("查看更正后的现行证书", "See the corrected, current certificate"),
    "issuer_merged_into": ("发证机构并入", "Issuer merged into"),
    "merged_on": ("合并日期", "Merged on"),
    "next_steps": ("下一步", "What to do next"),
    "hotline": ("全国职业技能鉴定质量监督举报电话", "National skills-appraisal supervision hotline"),
    "official_site": ("国家职业技能等级证书查询网站", "Official national certificate query site"),
    "official_institutions": ("评价机构信息查询网站", "Official assessment-institution query site"),
    "institution_title": ("评价机构信息", "Assessment institution"),
    "institution_code": ("机构代码", "Institution code"),
    "kind": ("机构类别", "Category"),
    "region": ("所在地", "Location"),
    "filing_number": ("备案号", "Filing No."),
    "filing_expires": ("备案期限", "Filing valid until"),
    "filing_date": ("备案日期", "Filed on"),
    "since": ("自", "since"),
    "history": ("状态记录", "Status history"),
    "scope": ("备案评价范围", "Filed assessment scope"),
    "occupation_code": ("职业编码", "Occupation code"),
    "levels": ("等级", "Levels"),
    "effective_from": ("生效日期", "In force from"),
    "standard": ("评价标准", "Standard"),
    "retired_codes": ("已停用（废置）的代码", "Retired codes"),
    "aliases": ("曾用代码", "Former codes"),
    "merged_into": ("并入机构", "Merged into"),
    "contact": ("联系方式", "Contact"),
    "address": ("地址", "Address"),
    "phone": ("电话", "Phone"),
    "website": ("网址", "Website"),
    "complaint": ("社会监督（投诉举报）渠道", "Complaints and public supervision"),
    "retired_notice": (
        "您查询的代码已停用，列入废置库，不会再分配给其他机构。以下为其历史记录。",
        "The code you looked up is retired and will never be reassigned. Below is its history.",
    ),
    # The institution lifecycle on its page (rules 41, 49-53).
    "filing_authority": ("备案层级", "Filing authority"),
    "parent_institution": ("所属机构", "Part of"),
    "sites": ("站点", "Sites (站点)"),
    "scheduled_decisions": ("已作出、尚未生效的决定", "Decided, not yet in force"),
    "scheduled": ("待生效", "scheduled"),
    "mergers": ("机构合并", "Mergers"),
    "merged_parties": ("被合并机构", "Merged institutions"),
    "credit_records": ("诚信记录（警告、诚信不良档案）", "Credit record (warnings, bad-credit entries)"),
    "article": ("依据条款", "Article"),
    "decided_by": ("决定单位", "Decided by"),
    "document_ref": ("文号", "Document"),
    "rectify_by": ("整改期限", "Rectify by"),
    "quality_grades": ("质量等级（年度评定）", "Quality grade (by assessment year)"),
    "email": ("电子邮箱", "Email"),
    "scan_title": ("扫描证书二维码", "Scan a certificate QR"),
    "scan_intro": (
        "将证书上的二维码对准摄像头。如果手机相机或微信能直接打开链接，则无需使用本页。",
        "Point the camera at the certificate's QR code. If your camera app or WeChat opens the link, you don't need this page.",
    ),
    "scan_start": ("打开摄像头", "Start camera"),
    "scan_nojs": (
        "本页需要启用 JavaScript 才能使用摄像头。也可以用手机相机直接扫描。",
        "This page needs JavaScript for the camera. You can also scan with your phone's camera app.",
    ),
    "scan_not_ours": ("这不是本系统的证书二维码", "This is not a certificate QR code of this service"),
    "scan_stop": ("关闭摄像头", "Stop camera"),
    "scan_video_label": (
        "摄像头画面（用于扫描证书二维码）",
        "Camera view for scanning the certificate QR code",
    ),
    "scan_starting": ("正在打开摄像头……", "Starting the camera…"),
    "scan_scanning": (
        "请将证书上的二维码放在画面中央。",
        "Hold the certificate's QR code in the middle of the picture.",
    ),
    "scan_found": ("已识别证书二维码，正在打开查验结果……", "Certificate QR code found; opening the result…"),
    "scan_denied": (
        "摄像头权限被拒绝。请在浏览器设置中允许本网站使用摄像头后重试，或用手机相机直接扫描。",
        "Camera access was denied. Allow this site to use the camera in your browser settings and try again, or scan with your phone's camera app.",
    ),
    "scan_no_camera": (
        "未找到可用的摄像头。请用手机相机直接扫描，或按证书编号查询。",
        "No camera was found. Scan with your phone's camera app, or look the certificate up by its number.",
    ),
    "scan_unsupported": (
        "此浏览器不能在网页中使用摄像头（需要较新的浏览器和 HTTPS 连接）。请用手机相机直接扫描，或按证书编号查询。",
        "This browser cannot use the camera in a web page (a recent browser and an HTTPS connection are needed). Scan with your phone's camera app, or look the certificate up by its number.",
    ),
    "scan_failed": (
        "摄像头无法启动。请确认已允许本网站使用摄像头，且摄像头没有被其他应用占用，然后重试。",
        "The camera could not be started. Check that this site may use the camera and that no other app is using it, then try again.",
    ),
    "json_twin": ("本页数据（JSON）", "This page as JSON"),
    "footer": (
        "本服务免费提供证书查验。证件号码不以明文保存。",
        "Certificate verification is free. ID numbers are never stored in plain text.",
    ),
    "error_title": ("出错了", "Something went wrong"),
    "rate_limited": ("查询过于频繁，请稍后再试。", "Too many lookups; please try again later."),
    "home": ("返回首页", "Home"),
    "level_none": ("不分等级（专项职业能力）", "No level (special ability)"),
    "form_problems": ("请修改以下问题：", "Please fix the following:"),
}

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def pick_lang(requested: str | None, cookie: str | None, accept_language: str | None) -> str:
    """Query parameter, then the cookie, then the browser's languages; Chinese by default."""
    for candidate in (requested, cookie):
        if candidate in LANGS:
            return str(candidate)
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANG


def t(key: str, lang: str) -> str:
    zh, en = TEXT[key]
    return zh if lang == "zh" else en


def format_date(value: date | str | None, lang: str) -> str:
    """2025年6月18日 / 18 Jun 2025."""
    if value is None or value == "":
        return "--"
    d = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{d.year}年{d.month}月{d.day}日" if lang == "zh" else f"{d.day} {MONTHS_EN[d.month - 1]} {d.year}"

"""What the driver (and ops) read for each event: one short headline per code or status."""

from drivers.models import DriverEvent

Code = DriverEvent.Code

STATUS_HEADLINES = {
    "applied": "Application started",
    "documents_pending": "Profile and vehicle complete",
    "screening": "Background check started",
    "approved": "Approved to drive",
    "suspended": "Account suspended",
    "deactivated": "Account deactivated",
    "rejected": "Application not approved",
}

CODE_HEADLINES = {
    Code.DOCUMENT_APPROVED: "Document approved",
    Code.DOCUMENT_REJECTED: "Document rejected",
    Code.DOCUMENT_EXPIRING: "Document expiring soon",
    Code.DOCUMENT_EXPIRED: "Suspended: a document expired",
    Code.SCREENING_STARTED: "Background check invitation sent",
    Code.SCREENING_COMPLETED: "Background check completed",
    Code.SCREENING_CANCELED: "Background check invitation closed",
    Code.SCREENING_ENGAGED: "Background check reviewed: you may continue",
    Code.PRE_ADVERSE_ACTION: "Pre-adverse action notice",
    Code.ADVERSE_ACTION: "Final adverse action notice",
    Code.APPEAL_FILED: "Appeal received",
    Code.APPEAL_UPHELD: "Appeal decided: the decision stands",
    Code.APPEAL_OVERTURNED: "Appeal decided: you are reinstated",
}

STATUS_BADGES = {
    "applied": "",
    "documents_pending": "warn",
    "screening": "warn",
    "approved": "ok",
    "suspended": "bad",
    "deactivated": "bad",
    "rejected": "bad",
}


def event_headline(event: DriverEvent) -> str:
    if event.code == Code.STATUS:
        return STATUS_HEADLINES.get(event.to_status, event.to_status)
    return CODE_HEADLINES.get(event.code, event.get_code_display())


STATUS_LABELS = {
    "applied": "Getting started",
    "documents_pending": "Documents needed",
    "screening": "In review",
    "approved": "Approved",
    "suspended": "Suspended",
    "deactivated": "Deactivated",
    "rejected": "Not approved",
}

STATUS_EXPLANATIONS = {
    "applied": "Finish your profile and add your vehicle to continue.",
    "documents_pending": "Upload your licence, insurance and registration, then start your "
    "background check.",
    "screening": "We are reviewing your documents and your background check. This usually "
    "takes one to three days; we e-mail you at every step.",
    "approved": "You are approved to deliver with Spark. Keep your documents up to date to "
    "stay online.",
    "suspended": "You cannot receive offers for now. The reason is below; you may appeal.",
    "deactivated": "Your account is deactivated. The reason is below; you may appeal.",
    "rejected": "We cannot approve your application. The reason is below.",
}

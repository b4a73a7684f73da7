"""The drivers app's only public write API. Other apps import this module, never the parts."""

from drivers.services.appeals import appeal_decide, appeal_file
from drivers.services.documents import (
    document_approve,
    document_encryption_rotate,
    document_reject,
    document_upload,
    documents_expiry_sweep,
)
from drivers.services.lifecycle import (
    driver_approve,
    driver_deactivate,
    driver_event_notify,
    driver_profile_update,
    driver_reject,
    driver_signup,
    driver_suspend,
    vehicle_save,
)
from drivers.services.screening import (
    background_check_adverse_action_finish,
    background_check_engage,
    background_check_pre_adverse_action,
    background_check_start,
    background_checks_adverse_action_finish_due,
    sandbox_invitation_submit,
    sandbox_report_run,
    screening_event_apply,
    screening_webhook_receive,
)

__all__ = [
    "appeal_decide",
    "appeal_file",
    "background_check_adverse_action_finish",
    "background_check_engage",
    "background_check_pre_adverse_action",
    "background_check_start",
    "background_checks_adverse_action_finish_due",
    "document_approve",
    "document_encryption_rotate",
    "document_reject",
    "document_upload",
    "documents_expiry_sweep",
    "driver_approve",
    "driver_deactivate",
    "driver_event_notify",
    "driver_profile_update",
    "driver_reject",
    "driver_signup",
    "driver_suspend",
    "sandbox_invitation_submit",
    "sandbox_report_run",
    "screening_event_apply",
    "screening_webhook_receive",
    "vehicle_save",
]

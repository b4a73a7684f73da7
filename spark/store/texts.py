"""Words the store dashboard shows: stage names, status labels, exception flags."""

STATUS_LABELS = {
    "created": "New",
    "ready_for_pickup": "Ready",
    "offered": "Ready · offered to drivers",
    "driver_assigned": "Driver on the way",
    "driver_at_store": "Driver at the store",
    "picked_up": "Picked up",
    "driver_at_dropoff": "At the customer's door",
    "delivered": "Delivered",
    "cancelled": "Cancelled",
    "undeliverable": "Undeliverable",
    "returning": "Coming back to the store",
    "returned_to_store": "Returned to the store",
}

STATUS_BADGES = {
    "delivered": "ok",
    "cancelled": "bad",
    "undeliverable": "bad",
    "returning": "warn",
    "returned_to_store": "warn",
}

# The board's columns, left to right, and the statuses each one shows.
STAGES = [
    ("new", "New", ("created",)),
    ("ready", "Ready", ("ready_for_pickup", "offered")),
    ("assigned", "Driver assigned", ("driver_assigned",)),
    ("at_store", "Driver at store", ("driver_at_store",)),
    ("picked_up", "Picked up", ("picked_up", "driver_at_dropoff")),
    ("delivered", "Delivered", ("delivered",)),
]
CLOSED = ("cancelled", "returned_to_store")

FLAGS = {
    "unassigned": "No driver yet",
    "late": "Late",
    "running_late": "Running late",
    "undeliverable": "Undeliverable",
}

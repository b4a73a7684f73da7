"""Pages of the driver portal (/driver/): thin views over drivers' services and selectors."""

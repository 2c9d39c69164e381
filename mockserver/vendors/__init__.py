"""One package per vendor, each shaped the same: routes, handlers, store, errors, auth."""

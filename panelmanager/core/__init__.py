"""The headless registry: services, importers, measures and reports. Never imports Qt."""

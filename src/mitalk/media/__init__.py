"""Media: the managed Janus (config, supervisor), its API client, stages, and test bots."""

"""Durable state shared by several nodes: the Redis event store, and which node
is alive and runs which conference."""

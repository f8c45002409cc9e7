"""servicekit: what every service runs on (settings, logs, metrics, tracing, Mongo event
store + outbox + inbox, RabbitMQ wiring, health). No domain code lives here."""

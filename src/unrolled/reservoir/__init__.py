"""Echo state networks (Jaeger 2001): fixed random recurrences and trained linear readouts."""

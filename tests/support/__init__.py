"""What the tests share: helpers, report factories and the scripted engine."""

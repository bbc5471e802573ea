"""The shared core: small helpers every layer may import; it imports no app."""

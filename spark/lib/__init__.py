"""The small shared kernel: base model, errors, money, geo/ETA, signing, clock."""

"""Model definitions and loaders shared by the chapters (MLP, ResNet, the packaged MiniLM encoder)."""

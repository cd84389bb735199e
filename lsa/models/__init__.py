"""Model definitions and loaders shared by the chapters: MLP, ResNet, ViT, DDPM U-Net, small GPT, packaged MiniLM."""

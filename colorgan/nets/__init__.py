"""The networks, free of Lightning: the U-Net generator, EfficientNet-Lite and the U-Net on it (one
builder for every generator kind: generators.py), ColorNet (a generator and its colour space, RGB to
ab), the classification body over ab bins (color_classifier.py, ab_bins.py), the discriminators, the
GAN losses, EMA and the layer factories they are built from.
colorgan.models holds the LightningModules that train them."""

"""The networks, free of Lightning: the U-Net generator, the discriminators, the GAN losses and the
layer factories they are built from. colorgan.models holds the LightningModules that train them."""

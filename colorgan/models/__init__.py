"""The LightningModules: what is trained, with which loss and optimizers. base.py holds what the
three share (ColorizerModule: the generator, metrics, images, the test against gray); unet_colorizer.py
the L1 U-Net, gan_colorizer.py and gan_training.py the conditional GAN, classify_colorizer.py the
ab-bin classifier. The networks themselves are in colorgan.nets."""

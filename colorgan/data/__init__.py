"""The data every model trains on: the LightningDataModule they share (datamodule.py: batches to
the device, flips, the colour-space split) over CIFAR-10 (cifar10.py) or any folder of photos
(folder.py, its splits in folder_splits.py and its decoded cache in decoded_cache.py); the batches
models take (batches.py), reading and skipping images (images.py), the one error for data a user
must fix (errors.py), and the photo sets' commands: `python -m colorgan.data.photo_mix` (the training
folder of links), `.unlike_set` (the photos unlike it) and `.photo_copies` (resized colour copies)."""

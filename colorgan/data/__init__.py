"""The data every model trains on, as one LightningDataModule per source, the colour-space split
done the same way for each: CIFAR-10 (cifar10.py), any folder of photos (folder.py, its splits in
folder_splits.py and its decoded cache in decoded_cache.py), the batches models take (batches.py),
reading and skipping images (images.py), and `python -m colorgan.data.photo_mix` (photo_mix.py)."""

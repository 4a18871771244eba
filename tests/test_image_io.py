from pathlib import Path

from colorgan.image_io import find_images, readable_formats


def test_readable_formats_are_lower_case_suffixes_pillow_opens():
    formats = readable_formats()
    assert formats[".jpg"] == "JPEG" and formats[".png"] == "PNG"
    assert all(suffix == suffix.lower() and suffix.startswith(".") for suffix in formats)


def test_find_images_any_depth_sorted_without_hidden_or_other_files(tmp_path):
    for name in ("b.PNG", "a/z.jpg", "a/deep/er/x.webp", "notes.txt", ".DS_Store", "._b.png", ".cache/c.png", "d.jpg/"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir() if name.endswith("/") else path.write_bytes(b"")
    found = [path.relative_to(tmp_path) for path in find_images(tmp_path)]
    assert found == [Path("a/deep/er/x.webp"), Path("a/z.jpg"), Path("b.PNG")]

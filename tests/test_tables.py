from rich.console import Console

from colorgan.report.tables import COLUMNS, comparison_table, logged_comparison, print_comparison


def test_logged_metrics_split_into_model_and_baseline():
    logged = {"test/mae": 0.1, "test_baseline/mae": 0.2, "test/ssim": 0.9, "val/mae": 0.5}
    assert logged_comparison(logged) == ({"mae": 0.1, "ssim": 0.9}, {"mae": 0.2})


def test_one_row_a_model_metric_with_a_blank_where_the_baseline_lacks_it():
    table = comparison_table("t", {"mae": 0.1, "ssim": 0.9}, {"mae": 0.2})
    assert tuple(c.header for c in table.columns) == COLUMNS
    assert list(table.columns[0].cells) == ["mae", "ssim"]
    assert list(table.columns[2].cells) == ["0.2000", ""]


def test_printed_on_the_given_console():
    console = Console(record=True, width=80)
    print_comparison("metrics on 2 image(s)", {"psnr": 21.5}, {"psnr": 19.25}, console)
    text = console.export_text()
    assert "metrics on 2 image(s)" in text and "grayscale baseline" in text and "21.5000" in text and "19.2500" in text

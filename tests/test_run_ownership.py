"""A run directory belongs to the run that writes it: a refused run changes nothing there and
leaves nothing behind, a second process is kept out by a lock, and user errors are said once."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.configs import REPO, TINY

from colorgan.runs import run_lock
from colorgan.runs.run_lock import LOCK, RunLocked, acquire, release


def train_cli(*args: str, env: dict | None = None, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "colorgan.train", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})}, **popen)


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under `folder`: its content hash and modification time."""
    return {str(p.relative_to(folder)): (hashlib.sha1(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_refused_run_changes_nothing_in_the_run_it_refused(tiny_cifar, tmp_path):
    env = {"COLORGAN_DATA": str(tiny_cifar)}
    run = tmp_path / "run"
    assert train_cli("+experiment=unet", *TINY, f"hydra.run.dir={run}", env=env).returncode == 0
    before = snapshot(run)
    refused = train_cli("+experiment=unet", *TINY, "trainer.max_epochs=3", f"hydra.run.dir={run}", env=env)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: Invalid config, nothing was run:") and "resume=" in refused.stderr
    assert snapshot(run) == before  # .hydra/overrides.yaml, job_status.json, train.log: all as they were
    assert json.loads((run / "job_status.json").read_text())["status"] == "COMPLETED"
    assert "trainer.max_epochs=3" not in (run / ".hydra" / "overrides.yaml").read_text()


def test_a_second_process_is_kept_out_while_the_first_writes(tiny_cifar, tmp_path):
    env = {**os.environ, "COLORGAN_DATA": str(tiny_cifar)}
    run = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "colorgan.train", "+experiment=unet", *TINY,
                              "trainer.max_epochs=100000", f"hydra.run.dir={run}"], cwd=REPO, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (run / "checkpoints" / "last.ckpt").is_file():  # running, with a checkpoint to resume
            assert first.poll() is None and time.monotonic() < deadline, "the first run did not start"
            time.sleep(0.2)
        overrides = (run / ".hydra" / "overrides.yaml").read_text()
        second = train_cli(f"resume={run}", env=env)
        assert second.returncode == 2, second.stderr[-2000:]
        assert f"is being written by process {first.pid} on {socket.gethostname()}" in second.stderr
        assert (run / ".hydra" / "overrides.yaml").read_text() == overrides
        assert first.poll() is None  # the first run goes on
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=120)
    assert not (run / LOCK).exists()  # released when the first run ended


def test_user_errors_are_said_once_and_leave_no_directory(tiny_cifar, tmp_path):
    env = {"COLORGAN_DATA": str(tiny_cifar), "COLORGAN_LOG_DIR": str(tmp_path / "logs")}
    bad = ["+experiment=unet", *TINY, "model.generator.activation=swish2"]
    out = train_cli(*bad, env=env)  # into the default run dir: logs/runs/<name>/<time>
    assert out.returncode == 2
    assert out.stderr.count("model.generator.activation='swish2'") == 1, out.stderr
    for noise in ("Traceback", "Error executing job", "Training failed"):
        assert noise not in out.stderr + out.stdout
    assert not (tmp_path / "logs" / "runs").exists()  # the run dir Hydra made, and its empty parents
    developer = train_cli(*bad, env={**env, "HYDRA_FULL_ERROR": "1"})
    assert developer.returncode != 0 and "Traceback" in developer.stderr and "ConfigError" in developer.stderr


@pytest.mark.parametrize("logger", ["csv", "wandb"])
def test_a_run_refused_after_the_photo_scan_leaves_no_run_folder(logger, tmp_path):
    """The files pass the config check (they are counted, not decoded), then the scan finds every one
    gray: the run stops before its first step, said once, and its folder (config, Hydra's record,
    train.log, an offline W&B run) is removed with its empty parents."""
    from PIL import Image

    gray = tmp_path / "gray"
    gray.mkdir()
    for i in range(12):
        Image.new("RGB", (40, 40), (i * 20,) * 3).save(gray / f"{i}.png")
    env = {"COLORGAN_LOG_DIR": str(tmp_path / "logs"), "COLORGAN_CACHE_DIR": str(tmp_path / "cache"),
           "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    out = train_cli("+experiment=unet", *TINY, f"logger={logger}", "data=folder", f"data.root={gray}",
                    "data.image_size=32", "data.val_size=1", "data.test_size=1", "data.num_workers=0", env=env)
    assert out.returncode == 2, out.stderr[-3000:]
    (line,) = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert "No usable train images" in line and "Traceback" not in out.stderr + out.stdout
    assert not (tmp_path / "logs" / "runs").exists(), sorted((tmp_path / "logs").rglob("*"))


def test_two_runs_started_in_the_same_second_get_folders_of_their_own(tiny_cifar, tmp_path):
    """conf/hydra names a run's folder with colorgan.new_run_dir over its time stamp; here the stamp is
    fixed, so the two processes certainly ask for the same name, as runs started in one second do."""
    from omegaconf import OmegaConf

    rule = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "hydra" / "default.yaml"))["run"]["dir"]
    assert rule == "${colorgan.new_run_dir:${paths.log_dir}/runs/${name}/${now:%Y-%m-%d_%H-%M-%S}}"
    same_second = rule.replace("${now:%Y-%m-%d_%H-%M-%S}", "2026-01-01_12-00-00")
    env = {**os.environ, "COLORGAN_DATA": str(tiny_cifar), "COLORGAN_LOG_DIR": str(tmp_path / "logs")}
    runs = [subprocess.Popen([sys.executable, "-m", "colorgan.train", "+experiment=unet", *TINY, "name=x",
                              f"seed={seed}", f"hydra.run.dir='{same_second}'"], cwd=REPO, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err[-3000:]
    folders = sorted(p.name for p in (tmp_path / "logs" / "runs" / "x").iterdir())
    assert folders == ["2026-01-01_12-00-00", "2026-01-01_12-00-00_2"]
    seeds = {OmegaConf.load(tmp_path / "logs" / "runs" / "x" / name / "config.yaml").seed for name in folders}
    assert seeds == {1, 2}  # each run wrote its own folder
    for name in folders:
        assert (tmp_path / "logs" / "runs" / "x" / name / "test_metrics.json").is_file()


def test_a_stale_lock_is_taken_over_and_a_live_one_named(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = tmp_path / LOCK
    owner = run_lock.Owner(int(dead.stdout), socket.gethostname(), None, time.time(), None)
    lock.write_text(json.dumps(owner.__dict__))
    assert acquire(tmp_path) == lock and run_lock.read_owner(lock).pid == os.getpid()  # the dead one's is stale
    release(lock)
    assert not lock.exists()
    for holder, named in ((run_lock.Owner(os.getppid(), socket.gethostname(), None, time.time(), None),
                           f"process {os.getppid()} on {socket.gethostname()}"),
                          (run_lock.Owner(1234, "gpu-node-7", None, time.time(), "99"), "process 1234 on gpu-node-7, SLURM job 99")):
        lock.write_text(json.dumps(holder.__dict__))
        with pytest.raises(RunLocked, match=named + r".*If that process is certainly gone, delete"):
            acquire(tmp_path)
        release(lock)  # not ours: left in place
        assert lock.exists()
    os.environ["SLURM_JOB_ID"] = "99"  # the same SLURM job, requeued: its earlier incarnation is over
    try:
        assert acquire(tmp_path) == lock
    finally:
        del os.environ["SLURM_JOB_ID"]
        release(lock)


def test_only_the_first_process_of_a_job_takes_the_lock(monkeypatch):
    assert run_lock.first_process()
    for name, value in (("LOCAL_RANK", "1"), ("RANK", "3"), ("SLURM_PROCID", "2")):
        with monkeypatch.context() as m:
            m.setenv(name, value)
            assert not run_lock.first_process()


def test_planted_yaml_in_a_run_directory_is_refused_unrun(tmp_path, capsys):
    from colorgan.report.write import main as report_main
    from colorgan.runs.resume import ResumeError, resume_command_line

    marker = tmp_path / "code_ran"
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    planted = f"!!python/object/apply:os.system ['touch {marker}']"
    (run / ".hydra" / "overrides.yaml").write_text(f"- {planted}\n")
    with pytest.raises(ResumeError, match="not the list of overrides colorgan wrote"):
        resume_command_line(["train", f"resume={run}"])
    (run / "config.yaml").write_text(f"name: {planted}\n")
    assert report_main([str(run)]) == 2
    assert "is not a plain YAML file colorgan wrote" in capsys.readouterr().err
    assert not marker.exists()


def test_run_directory_names_are_spelled_only_in_run_dir():
    """run_dir.py is the contract: every other module imports its names instead of spelling them."""
    from colorgan.runs import run_dir

    names = [run_dir.LOCK, run_dir.CONFIG, run_dir.RUN_INFO, run_dir.TEST_METRICS, run_dir.TEST_PER_IMAGE,
             run_dir.JOB_STATUS, run_dir.OVERRIDES, run_dir.LAST_CHECKPOINT, run_dir.WANDB_ID, run_dir.MULTIRUN_RECORD]
    spelled = [f"{path.relative_to(REPO)}: {name}" for path in sorted((REPO / "colorgan").rglob("*.py"))
               if path.name != "run_dir.py" for name in names
               if f'"{name}"' in path.read_text() or f"'{name}'" in path.read_text()]
    assert not spelled, spelled

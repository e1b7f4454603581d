"""The participant level on Dask: cluster options, the batch-job path, and a run on a real
scheduler with two worker processes, one killed mid-run, on a small simulated BIDS dataset of
phantom FLAIRs (128 x 128 x 16 voxels, 1.8 x 1.8 x 6 mm: about 15 s a scan with the classical
segmenter on one core; ``cohort simulate --images`` may replace it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import b12brain
from b12brain.cli.main import main
from b12brain.cohort.engine import ClusterOptions
from b12brain.errors import ConfigError
from b12brain.io import save_nifti
from b12brain.phantom import PhantomConfig, make_phantom

_SRC = str(Path(b12brain.__file__).resolve().parents[1])

PARTICIPANTS_TSV = (
    "participant_id\tage\tsex\tb12\tholotc\tmma\thomocysteine\thypertension\n"
    "sub-01\t71\tF\t150\t30\t0.45\t14\tyes\n"
    "sub-02\t66\tM\t<100\t25\t0.6\t18\tno\n"
    "sub-03\t80\tM\t420\t90\t0.2\t9\tn/a\n"
)
PARTICIPANTS_JSON = ('{"b12": {"Units": "pmol/L"}, "holotc": {"Units": "pmol/L"}, "mma": {"Units": "umol/L"}, '
                     '"homocysteine": {"Units": "umol/L"}}')


@pytest.fixture(scope="module")
def phantom_bids(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sub-01..03, each the same moderate-load phantom FLAIR (so every scan must give the same
    lesion figures, whichever worker ran it), sub-04 with a FLAIR that is not a NIfTI file, and
    participants.tsv/.json."""
    flair = make_phantom(PhantomConfig(seed=1, lesion_load="moderate", slice_mm=6.0)).flair
    top = flair.shape[2] - 16
    data = np.ascontiguousarray(flair.data[::2, ::2, top:])
    affine = flair.affine @ np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 1, top], [0, 0, 0, 1]], dtype=float)
    root = tmp_path_factory.mktemp("phantom_bids") / "ds"
    for label in ("01", "02", "03"):
        anat = root / f"sub-{label}" / "anat"
        anat.mkdir(parents=True)
        save_nifti(data, affine, anat / f"sub-{label}_FLAIR.nii.gz")
    broken = root / "sub-04" / "anat" / "sub-04_FLAIR.nii.gz"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a NIfTI file")
    (root / "dataset_description.json").write_text('{"Name": "phantoms", "BIDSVersion": "1.10.0"}')
    (root / "participants.tsv").write_text(PARTICIPANTS_TSV, encoding="utf-8")
    (root / "participants.json").write_text(PARTICIPANTS_JSON, encoding="utf-8")
    return root


def test_cluster_options_refuse_what_cannot_run() -> None:
    with pytest.raises(ConfigError, match="at least 1"):
        ClusterOptions(workers=0)
    with pytest.raises(ConfigError, match="--job-memory"):
        ClusterOptions(jobqueue="slurm")
    with pytest.raises(ConfigError, match="exclude each other"):
        ClusterOptions(jobqueue="pbs", memory="8GB", scheduler="tcp://127.0.0.1:8786")


@pytest.mark.parametrize(("system", "directives"), [
    ("slurm", ["#SBATCH -p short", "#SBATCH -A lab", "#SBATCH --cpus-per-task=4", "#SBATCH -t 02:00:00"]),
    ("pbs", ["#PBS -q short", "#PBS -A lab", "ncpus=4", "#PBS -l walltime=02:00:00"]),
])
def test_batch_job_script_runs_a_dask_worker_with_the_threads_asked(
        system: str, directives: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bids", str(tmp_path), str(tmp_path / "out"), "participant", "--jobqueue", system,
                 "--job-memory", "16GB", "--job-walltime", "02:00:00", "--job-queue", "short", "--job-account", "lab",
                 "--threads-per-worker", "4", "--print-job-script"])
    script = capsys.readouterr().out
    assert code == 0
    for directive in directives:
        assert directive in script
    assert "export ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=4" in script
    assert "distributed.cli.dask_worker tcp://" in script and "--nthreads 4" in script
    assert not (tmp_path / "out").exists()  # nothing submitted, nothing written


def test_print_job_script_needs_a_jobqueue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bids", str(tmp_path), str(tmp_path / "out"), "participant", "--print-job-script"]) == 2
    assert "needs --jobqueue" in capsys.readouterr().err


def _python(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_SRC, os.environ.get("PYTHONPATH")])),
                   **(env or {})}
    return subprocess.Popen([sys.executable, *args], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            encoding="utf-8")


@pytest.fixture
def dask_processes(tmp_path: Path) -> Iterator[tuple[str, list[subprocess.Popen[str]]]]:
    """A scheduler and two one-thread workers, each a process of its own, on loopback."""
    scheduler_file = tmp_path / "scheduler.json"
    started = [_python("-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                       "--no-dashboard", "--scheduler-file", str(scheduler_file))]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        # As a Dask nanny does: freed memory goes back to the system at once (catches reads of freed buffers).
        workers = [_python("-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny",
                           "--no-dashboard", "--name", f"w{i}", env={"MALLOC_TRIM_THRESHOLD_": "65536"})
                   for i in range(2)]
        started += workers
        yield address, workers
    finally:
        for process in started:
            process.kill()
            process.communicate()


@pytest.mark.slow
def test_a_killed_worker_costs_no_scan_and_a_rerun_recomputes_nothing(
        phantom_bids: Path, tmp_path: Path, dask_processes: tuple[str, list[subprocess.Popen[str]]]) -> None:
    from distributed import Client

    address, workers = dask_processes
    out = tmp_path / "derivatives"
    command = ["-m", "b12brain.cli.main", "bids", str(phantom_bids), str(out), "participant",
               "--segmenter", "classical", "--scheduler", address]
    with Client(address, timeout="60s") as client:
        client.wait_for_workers(2, timeout=60)
        run = _python(*command)
        deadline = time.monotonic() + 300
        while not all(client.processing().values()) or len(client.processing()) < 2:
            assert time.monotonic() < deadline and run.poll() is None, "the two workers never both ran a scan"
            time.sleep(0.2)
        time.sleep(2.0)  # into the pipeline, well before its end
        pids = client.run(os.getpid)
        victim_address, killed_keys = next((w, keys) for w, keys in client.processing().items() if keys)
        victim = next(p for p in workers if p.pid == pids[victim_address])
        survivor_pid = next(pid for w, pid in pids.items() if w != victim_address)
        victim.kill()
        stdout, stderr = run.communicate(timeout=600)
    assert run.returncode == 0, stderr
    assert "participant level: 3 ok, 1 failed, 0 done before" in stdout
    assert "sub-04: failed: " in stderr and "sub-04_FLAIR.nii.gz" in stderr

    assert not [p for p in out.rglob("*") if "b12brain-partial" in p.name]  # the killed scan's staging is gone
    logs = {path.stem: json.loads(path.read_text()) for path in (out / "logs").glob("*_scan.json")}
    assert logs.pop("sub-04_scan")["status"] == "failed"
    assert {record["status"] for record in logs.values()} == {"ok"} and len(logs) == 3
    for key in killed_keys:  # the killed worker's scans were finished by the other one
        record = logs[f"{key.split('-')[1]}-{key.split('-')[2]}_scan"]
        assert record["worker"].endswith(f":{survivor_pid}")

    assert main(["bids", str(phantom_bids), str(out), "group"]) == 0
    table = pd.read_csv(out / "group" / "b12brain_group.tsv", sep="\t", keep_default_na=False, na_values=["n/a"])
    assert list(table["participant_id"]) == ["sub-01", "sub-02", "sub-03", "sub-04"]
    assert list(table["status"]) == ["ok"] * 3 + ["failed"] and list(table["error"][:3]) == [""] * 3
    assert "sub-04_FLAIR.nii.gz" in table["error"][3] and pd.isna(table["total_lesion_ml"][3])
    table = table[:3]
    # the same scan thrice: the same figures, whichever worker ran it and however often
    assert table["total_lesion_ml"].nunique() == 1 and float(table["total_lesion_ml"][0]) > 1.0
    assert table["fazekas_periventricular"].nunique() == 1
    summary = json.loads((out / "sub-02" / "anat" / "sub-02_space-orig_desc-lesion_mask.json").read_text())
    assert float(table["total_lesion_ml"][1]) == summary["b12brain"]["lesions"]["lesion_ml"]
    assert list(table["age"]) == [71.0, 66.0, 80.0] and list(table["sex"]) == ["female", "male", "male"]
    assert pd.isna(table["b12"][1]) and "b12: given as a bound (<100 pmol/L)" in table["qc_flags"][1]
    assert float(table["b12"][2]) == 420.0 and table["cb12_category"][0] != ""
    parquet = pd.read_parquet(out / "group" / "b12brain_group.parquet")
    assert list(parquet["status"]) == ["ok"] * 3 + ["failed"]
    assert list(parquet["total_lesion_ml"][:3]) == list(table["total_lesion_ml"])
    gallery = (out / "group" / "qc_gallery.html").read_text(encoding="utf-8")
    assert gallery.count('src="../sub-0') == 3 and 'href="../sub-03/anat/sub-03_space-orig_desc-lesion_mask.nii.gz"' in gallery

    # The BIDS validator (the schema validator of bids-standard, from PyPI) finds no error.
    validator = Path(sys.executable).with_name("bids-validator-deno")
    checked = subprocess.run([str(validator), str(out), "--json"], capture_output=True, encoding="utf-8", timeout=300)
    errors = [issue for issue in json.loads(checked.stdout)["issues"]["issues"] if issue["severity"] == "error"]
    assert errors == [], errors

    def done_files() -> dict[Path, int]:
        return {p: p.stat().st_mtime_ns for p in out.rglob("*")
                if p.is_file() and "group" not in p.parts and p.name != "sub-04_scan.json"}

    written = done_files()
    rerun = _python(*command)
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    assert "participant level: 0 ok, 1 failed, 3 done before" in stdout  # only the failed scan is tried again
    assert "3 scans already done (outputs verified by their manifest)" in stderr
    assert done_files() == written

"""Sending a run's DICOM objects to a PACS: DICOMweb STOW-RS or DIMSE C-STORE."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from b12brain.errors import B12BrainError, InputFileError

_RUN_OBJECTS = ("lesion_seg.dcm", "report_pdf.dcm")
_TIMEOUT_S = 30.0


class SendError(B12BrainError, RuntimeError):
    """The PACS could not be reached or did not store an object."""


@dataclass(frozen=True)
class SendTarget:
    """Where the objects went: the server as the user named it, and the files sent."""

    server: str
    files: tuple[str, ...]


def run_dicom_files(run_dir: Path | str) -> list[Path]:
    """The DICOM objects a run wrote (``lesion_seg.dcm``, ``report_pdf.dcm``), those present.

    Raises
    ------
    InputFileError
        ``run_dir`` holds none (the FLAIR was NIfTI, or the run was de-identified: its
        ``summary.json`` says why under ``dicom_outputs``).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputFileError(run_dir, "is not a run folder; give the --out folder of `b12brain run`")
    files = [run_dir / name for name in _RUN_OBJECTS if (run_dir / name).is_file()]
    if not files:
        raise InputFileError(run_dir, "holds no DICOM object to send (lesion_seg.dcm, report_pdf.dcm); summary.json "
                             "says under dicom_outputs why none was written (e.g. a NIfTI FLAIR or --deidentify)")
    return files


def send_dicomweb(files: list[Path], url: str) -> SendTarget:
    """Store ``files`` with STOW-RS at the DICOMweb service ``url`` (e.g. ``http://pacs/dicom-web``).

    Raises
    ------
    SendError
        The service is unreachable or refused an object (HTTP status and reason given).
    """
    import requests
    from dicomweb_client.api import DICOMwebClient

    datasets = _read(files)
    try:
        client = DICOMwebClient(url=url)
        client.set_http_retry_params(retry=False)
        response = client.store_instances(datasets=datasets)
    except requests.HTTPError as err:
        status = err.response.status_code if err.response is not None else "?"
        reason = err.response.reason if err.response is not None else str(err)
        raise SendError(f"{url}: STOW-RS failed with HTTP {status} ({reason}); check the URL (the DICOMweb root, "
                        "e.g. http://host:8042/dicom-web) and that the server accepts stores") from err
    except (requests.RequestException, OSError, ValueError) as err:
        raise SendError(f"{url}: cannot reach the DICOMweb server ({type(err).__name__}); check the URL, the "
                        "network and that the server runs") from err
    failed = response.get("00081198")  # FailedSOPSequence
    if failed and failed.get("Value"):
        raise SendError(f"{url}: the server refused {len(failed['Value'])} of {len(files)} objects; see its log")
    return SendTarget(url, tuple(f.name for f in files))


def send_cstore(files: list[Path], host: str, port: int, called_aet: str, *, calling_aet: str = "B12BRAIN") -> SendTarget:
    """Store ``files`` with DIMSE C-STORE at ``host``:``port`` (application entity ``called_aet``).

    Raises
    ------
    SendError
        No association (host, port or AE title wrong, or the server refused it), or a store
        answered with a status other than success (the status is given).
    """
    from pynetdicom import AE

    server = f"{called_aet}@{host}:{port}"
    datasets = _read(files)
    ae = AE(ae_title=calling_aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = _TIMEOUT_S
    for sop_class in sorted({str(ds.SOPClassUID) for ds in datasets}):
        ae.add_requested_context(sop_class, [str(ds.file_meta.TransferSyntaxUID) for ds in datasets
                                             if str(ds.SOPClassUID) == sop_class][0])
    try:
        assoc = ae.associate(host, port, ae_title=called_aet)
    except (OSError, ValueError) as err:
        raise SendError(f"{server}: cannot associate ({err}); check the host, port and AE title") from err
    if not assoc.is_established:
        raise SendError(f"{server}: association rejected or not answered; check the host, port, the called AE "
                        f"title and that the server knows the calling AE title {calling_aet}")
    try:
        for path, ds in zip(files, datasets, strict=True):
            status = assoc.send_c_store(ds)
            code = getattr(status, "Status", None)
            if code != 0x0000:
                shown = "no answer" if code is None else f"status 0x{code:04X}"
                raise SendError(f"{server}: C-STORE of {path.name} failed ({shown}); see the server's log")
    finally:
        assoc.release()
    return SendTarget(server, tuple(f.name for f in files))


def _read(files: list[Path]) -> list[Dataset]:
    datasets: list[Dataset] = []
    for path in files:
        try:
            datasets.append(pydicom.dcmread(path))
        except (pydicom.errors.InvalidDicomError, OSError) as err:
            raise InputFileError(path, f"cannot be read as DICOM ({type(err).__name__}); rerun `b12brain run`") from err
    return datasets

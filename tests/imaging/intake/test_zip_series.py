"""Zipped DICOM series: hostile archives refused, entries named by position only, slices
checked to be one series and stacked in anatomical order."""

import io
import random
import zipfile

import numpy as np
import pytest

from imaging.intake import IntakeError, IntakeLimits, intake_inspect, pixels_decode
from tests.imaging.intake.builders import (
    PE_PREAMBLE,
    ct_slice,
    dicom_bytes,
    symlink_info,
    zip_bytes,
)


@pytest.fixture
def upload(tmp_path):
    def write(data: bytes, name: str = "series.zip"):
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


def refused(path, code, limits=None):
    with pytest.raises(IntakeError) as error:
        intake_inspect(path, **({"limits": limits} if limits else {}))
    assert error.value.code == code, error.value.message
    return error.value


def slices(count=5, **kwargs):
    return [dicom_bytes(ct_slice(z=2.5 * i, instance=i + 1, **kwargs)) for i in range(count)]


def test_a_shuffled_series_is_accepted_and_stacked_along_the_slice_normal(upload):
    ordered = slices(6)
    shuffled = list(enumerate(ordered))
    random.Random(7).shuffle(shuffled)
    assert [i for i, _ in shuffled] != sorted(i for i, _ in shuffled)
    path = upload(zip_bytes([(f"Patient Name/IM{n:04d}", data) for n, data in shuffled]))
    intake = intake_inspect(path)
    assert (intake.kind, intake.extension, intake.modality) == ("dicom-zip", ".zip", "CT")
    assert (intake.rows, intake.columns, intake.frames) == (32, 32, 6)
    assert intake.phi["patient_id"] == "SYN-0001"
    pixels = pixels_decode(path, "dicom-zip")
    assert pixels.frames.shape == (6, 32, 32)
    # Slice i stores 1000 + 25 i: -24 + 25 i HU once rescaled.
    np.testing.assert_array_equal(pixels.frames[:, 5, 5], [-24 + 25 * i for i in range(6)])
    assert pixels.modality == "CT" and pixels.pixel_spacing_mm == (0.7, 0.8)


def test_without_positions_slices_are_ordered_by_instance_number(upload):
    entries = []
    for i in (3, 1, 2):
        ds = ct_slice(z=float(i), instance=i)
        del ds.ImagePositionPatient
        entries.append((f"{i}.dcm", dicom_bytes(ds)))
    pixels = pixels_decode(upload(zip_bytes(entries)), "dicom-zip")
    np.testing.assert_array_equal(pixels.frames[:, 5, 5], [-14, -4, 6])


def test_positions_are_sorted_along_the_normal_not_by_z_alone(upload):
    # Sagittal slices: rows along +y, columns along -z, so the normal (row x column) is -x and
    # z is the same for all; ascending along the normal means descending x.
    entries = []
    for i, x in enumerate((10.0, -5.0, 0.0)):
        ds = ct_slice(instance=i + 1, fill=1000 + int(x))
        ds.ImageOrientationPatient = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0]
        ds.ImagePositionPatient = [x, 0.0, 0.0]
        entries.append((f"s{i}", dicom_bytes(ds)))
    pixels = pixels_decode(upload(zip_bytes(entries)), "dicom-zip")
    np.testing.assert_array_equal(pixels.frames[:, 5, 5], [-14, -24, -29])


def test_folders_macos_forks_hidden_files_and_dicomdir_are_skipped(upload):
    data = slices(2)
    path = upload(
        zip_bytes(
            [
                ("study/", b""),
                ("study/a.dcm", data[0]),
                ("__MACOSX/study/._a.dcm", b"\x00\x05\x16\x07junk"),
                ("study/.DS_Store", b"Bud1junk"),
                ("DICOMDIR", b"not really"),
                ("study/b.dcm", data[1]),
            ]
        )
    )
    assert intake_inspect(path).frames == 2


@pytest.mark.parametrize(
    "name",
    ["../evil.dcm", "a/../../evil.dcm", "/etc/evil.dcm", "C:/evil.dcm", "..\\evil.dcm", "\\evil"],
)
def test_unsafe_paths_are_refused(upload, name):
    info = zipfile.ZipInfo("placeholder")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ok.dcm", slices(1)[0])
        info.filename = name  # ZipInfo() would normalise some of these away
        archive.writestr(info, slices(1)[0])
    error = refused(upload(buffer.getvalue()), "zip_path")
    assert "File 2" in error.message and "evil" not in error.message


def test_a_symlink_entry_is_refused(upload):
    path = upload(zip_bytes([("a.dcm", slices(1)[0]), (symlink_info("link.dcm"), b"/etc/passwd")]))
    assert "File 2" in refused(path, "zip_symlink").message


def test_a_zip_bomb_entry_is_refused_by_its_compression_ratio(upload):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.dcm", b"\x00" * (50 * 1024 * 1024))
    data = buffer.getvalue()
    assert len(data) < 100_000
    refused(upload(data), "zip_bomb")


def test_a_zip_declaring_more_than_four_uploads_in_total_is_refused(upload):
    entries = [(f"{i}.dcm", data) for i, data in enumerate(slices(6, rows=128, columns=128))]
    archive = zip_bytes(entries)
    limit = len(archive)  # the archive itself is within the upload limit...
    assert sum(len(data) for _, data in entries) > 4 * limit  # ...its contents are not
    refused(upload(archive), "zip_bomb", IntakeLimits(max_bytes=limit))


def test_an_entry_that_inflates_beyond_its_declared_size_is_not_trusted(upload):
    # One slice, built once: its UIDs are random, so a second build may differ in length.
    entry = slices(1)[0]
    data = bytearray(zip_bytes([("a.dcm", entry)]))
    # Lower the uncompressed size in both the local header and the central directory.
    real = len(entry)
    assert bytes(data).count(real.to_bytes(4, "little")) >= 2
    lied = (real // 2).to_bytes(4, "little")
    data = bytes(data).replace(real.to_bytes(4, "little"), lied)
    with pytest.raises(IntakeError) as error:
        intake_inspect(upload(data))
    assert error.value.code in {"zip_bomb", "zip_corrupt"}


def test_too_many_entries_are_refused(upload):
    entries = [(f"{i}.txt", b"") for i in range(11)]
    refused(upload(zip_bytes(entries)), "zip_too_many_entries", IntakeLimits(max_zip_entries=10))


def test_an_encrypted_entry_is_refused(upload):
    data = bytearray(zip_bytes([("a.dcm", slices(1)[0])]))
    data[6] |= 0x01  # general purpose flag bit 0: encrypted (local header)
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x01
    refused(upload(bytes(data)), "zip_encrypted")


def test_slices_of_another_size_are_refused_as_a_mixed_series(upload):
    entries = [("a.dcm", slices(1)[0]), ("b.dcm", dicom_bytes(ct_slice(rows=16, columns=16)))]
    error = refused(upload(zip_bytes(entries)), "zip_mixed_series")
    assert "File 2" in error.message


def test_slices_of_another_series_are_refused_as_a_mixed_series(upload):
    other = dicom_bytes(ct_slice(z=5.0, series_uid="1.2.826.0.1.3680043.8.498.99"))
    refused(upload(zip_bytes([("a.dcm", slices(1)[0]), ("b.dcm", other)])), "zip_mixed_series")


def test_a_non_dicom_entry_is_named_by_its_position_not_its_name(upload):
    path = upload(zip_bytes([("a.dcm", slices(1)[0]), ("Doe_John_MRN123.dcm", b"hello")]))
    error = refused(path, "zip_not_dicom")
    assert "File 2" in error.message and "Doe" not in error.message


def test_a_polyglot_slice_is_refused_with_its_own_code(upload):
    bad = PE_PREAMBLE.ljust(128, b"\x00") + slices(1)[0][128:]
    error = refused(upload(zip_bytes([("a.dcm", slices(1)[0]), ("b.dcm", bad)])), "dicom_polyglot")
    assert error.message.startswith("File 2 in the zip archive was refused: this DICOM file")


def test_an_empty_archive_is_refused(upload):
    refused(upload(zip_bytes([])), "zip_empty")
    refused(upload(zip_bytes([("__MACOSX/._x", b"junk")]), "b.zip"), "zip_empty")


def test_a_multi_frame_entry_is_refused(upload):
    ds = ct_slice(rows=4, columns=4)
    ds.NumberOfFrames = 2
    ds.PixelData = ds.PixelData * 2
    refused(upload(zip_bytes([("m.dcm", dicom_bytes(ds))])), "zip_multiframe")


def test_series_limits_apply_to_the_slices(upload):
    path = upload(zip_bytes([(f"{i}.dcm", data) for i, data in enumerate(slices(4))]))
    refused(path, "too_many_pixels", IntakeLimits(max_frames=3))
    refused(path, "too_many_pixels", IntakeLimits(max_total_pixels=3 * 32 * 32))


def test_a_damaged_archive_is_refused(upload):
    data = zip_bytes([("a.dcm", slices(1)[0])])
    refused(upload(data[: len(data) // 2]), "zip_corrupt")

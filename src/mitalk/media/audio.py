"""PCM helpers for bots and tests: tones, WAV files, dominant frequency, per-window levels.

Samples are mono ``int16`` numpy arrays throughout; levels are in dBFS (0 = full scale).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

Pcm = npt.NDArray[np.int16]

SILENCE_DBFS = -120.0
# An Opus round trip of digital silence stays far below this; a -6 dBFS tone far above.
DEFAULT_SOUND_THRESHOLD_DBFS = -45.0


def tone(frequency: float, seconds: float, rate: int = 48000, amplitude: float = 0.5) -> Pcm:
    """A sine tone as mono int16 samples."""
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * frequency * t) * amplitude * 32767).astype(np.int16)


def to_mono(interleaved: npt.NDArray[np.int16], channels: int) -> Pcm:
    """Average interleaved channels into one."""
    if channels == 1:
        return interleaved.astype(np.int16, copy=False)
    frames = interleaved.reshape(-1, channels).astype(np.int32)
    mono: Pcm = frames.mean(axis=1).astype(np.int16)
    return mono


def resample(samples: Pcm, rate: int, target_rate: int) -> Pcm:
    """Linear-interpolation resampling: enough for test tones and speech bots."""
    if rate == target_rate or len(samples) == 0:
        return samples
    count = int(len(samples) * target_rate / rate)
    positions = np.arange(count) * (rate / target_rate)
    resampled: Pcm = np.interp(positions, np.arange(len(samples)), samples).astype(np.int16)
    return resampled


def read_wav(path: Path) -> tuple[Pcm, int]:
    """Read a 16-bit PCM WAV file as mono samples and its sample rate."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV files are supported")
        channels, rate = wav.getnchannels(), wav.getframerate()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return to_mono(data, channels), rate


def write_wav(path: Path, samples: Pcm, rate: int) -> None:
    """Write mono int16 samples as a 16-bit PCM WAV file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())


def level_dbfs(samples: Pcm) -> float:
    """RMS level of the samples in dBFS (SILENCE_DBFS for digital silence or no samples)."""
    if len(samples) == 0:
        return SILENCE_DBFS
    rms = float(np.sqrt(np.mean(np.square(samples.astype(np.float64)))))
    return max(SILENCE_DBFS, 20 * np.log10(rms / 32768)) if rms > 0 else SILENCE_DBFS


def window_levels(samples: Pcm, rate: int, window_seconds: float = 0.1) -> list[float]:
    """RMS level in dBFS of each consecutive window (a trailing partial window is dropped)."""
    size = max(1, int(rate * window_seconds))
    return [level_dbfs(samples[i : i + size]) for i in range(0, len(samples) - size + 1, size)]


def sounding_fraction(
    samples: Pcm,
    rate: int,
    threshold_dbfs: float = DEFAULT_SOUND_THRESHOLD_DBFS,
    window_seconds: float = 0.1,
) -> float:
    """Fraction of windows louder than the threshold: ~0 for silence, ~1 for a steady tone."""
    levels = window_levels(samples, rate, window_seconds)
    return sum(level > threshold_dbfs for level in levels) / len(levels) if levels else 0.0


def dominant_frequency(samples: Pcm, rate: int) -> float:
    """The strongest frequency in Hz (Hann-windowed FFT, refined by parabolic interpolation)."""
    if len(samples) < 16:
        raise ValueError("too few samples to find a frequency")
    signal = samples.astype(np.float64)
    signal -= signal.mean()
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    peak = int(np.argmax(spectrum[1:])) + 1  # Skip DC.
    # The FFT bin is rate/len wide (0.5 Hz for 2 s at 48 kHz); interpolating the log-magnitude
    # of the neighbours places a pure tone's peak to within a small fraction of a bin.
    if 1 <= peak < len(spectrum) - 1:
        left, centre, right = np.log(spectrum[peak - 1 : peak + 2] + 1e-12)
        denominator = left - 2 * centre + right
        offset = 0.5 * (left - right) / denominator if denominator else 0.0
    else:
        offset = 0.0
    return float((peak + offset) * rate / len(signal))


def first_above(samples: Pcm, amplitude: int) -> int | None:
    """Index of the first sample whose magnitude exceeds ``amplitude``, or None."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > amplitude)
    return int(loud[0]) if len(loud) else None

"""Spoken versions of the bot's messages, for the web chat's "listen" control.

Only the bot's own messages are spoken, never anything a patient typed: the text is sent to
Google (online voice) and kept on disk (cache) under a name made from it, so a caller must
pass message text from the catalogue only. Log lines name the voice, the language, the audio
id and error classes or HTTP statuses, never text.

:func:`speak` returns a :class:`Speech`; it never raises (a language with no voice, a voice
that failed, a missing binary: ``path`` is ``None`` and ``reason`` says why).

* Which voices a language has is in its ``languages/<code>.yml``: ``meta.gtts_voice`` (the
  gTTS language code) and ``meta.espeak_voice`` (the espeak-ng voice), ``null`` where there
  is none (Somali has neither). A code that is not one of our languages has no voice.
* Online voice: gTTS 2.5.4, when ``online`` (default: env ``SPEECH_ONLINE``, ``on``/``off``,
  ``on`` if unset), the language has a ``gtts_voice`` and gTTS has it
  (``gtts.lang.tts_langs()``, an offline table). gTTS is synchronous, so it runs in a
  thread (``asyncio.to_thread``) with a timeout for each request and one for the whole
  message. gTTS sends with TLS verification off
  (``verify=False``); we use its request building (``gTTS._prepare_requests``) but send the
  requests ourselves with verification on and the environment's proxy and CA settings, and
  decode the reply as gTTS does. Any failure (HTTP 429 or another status, no network, a
  timeout, a reply without audio) falls back to the offline voice, and after a network or
  HTTP failure gTTS is left alone for a while (``GTTS_BACKOFF_SECONDS``; longer after 429).
* Offline voice: the ``espeak-ng`` binary (Debian package; ``.ci/install-speech.sh``), run
  without a shell, the text on stdin, with a timeout; it writes a WAV file, in the language's
  ``espeak_voice``. No binary: ``reason="no offline voice installed"``.
* Cache: one file per (text, language, voice) in ``AUDIO_CACHE_DIR`` (default
  ``<repo>/var/audio``), named by the SHA-256 of the three (``<64 hex>.mp3`` or ``.wav``),
  written atomically (temporary file, then rename). A hit returns without calling any voice.
  Nothing is evicted: spoken messages come from the catalogue, so the set is bounded.
* :func:`for_whatsapp` turns the offline voice's WAV into OGG/Opus (``audio/ogg``, which
  WhatsApp plays; it does not play WAV) with the ``ffmpeg`` binary (Debian package;
  ``.ci/install-speech.sh``), run without a shell and with a timeout. The OGG is cached in
  the same directory under its own id (the SHA-256 of the WAV's id and the encoding,
  ``<64 hex>.ogg``), written atomically. MP3 and OGG pass through unchanged. No binary:
  ``reason="no audio converter installed"``.
* :func:`audio_path` maps an audio id from a URL back to a cached file, or ``None``.

This module imports neither ``rasa`` nor ``rasa_sdk``; gTTS is imported on first use.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import wave
import weakref
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.catalogue import available_languages, catalogue
from bot.settings import PROJECT_ROOT

__all__ = [
    "MAX_TEXT_LENGTH",
    "MEDIA_TYPES",
    "Speech",
    "audio_path",
    "for_whatsapp",
    "gtts_languages",
    "speak",
    "voices",
]

log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 1000  # characters; longer text is not spoken (reason says so)
DEFAULT_CACHE_DIR = PROJECT_ROOT / "var" / "audio"

GTTS = "gtts"
ESPEAK = "espeak-ng"
FFMPEG = "ffmpeg"
MEDIA_TYPES = {".mp3": "audio/mpeg", ".wav": "audio/wav", ".ogg": "audio/ogg"}

GTTS_REQUEST_TIMEOUT = (3.05, 8.0)  # seconds: (connect, read) for each request gTTS builds
GTTS_TIMEOUT = 12.0  # seconds for a whole message (gTTS sends one request per ~100 chars)
GTTS_BACKOFF_SECONDS = 60.0  # after a network error, timeout or HTTP error
GTTS_BACKOFF_429_SECONDS = 300.0  # after "too many requests"
ESPEAK_TIMEOUT = 15.0  # seconds
FFMPEG_TIMEOUT = 30.0  # seconds to turn one WAV into OGG/Opus
OPUS_BITRATE = "24k"  # speech; WhatsApp's own voice notes are Opus at about this rate
MAX_CONCURRENT = 2  # voices working at once, per event loop (the machine has 2 cores)

_AUDIO_ID = re.compile(r"[0-9a-f]{64}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*")
_GTTS_AUDIO = re.compile(r'jQ1olc","\[\\"(.*)\\"]')  # as gtts.tts.gTTS.stream decodes it


@dataclass(frozen=True)
class Speech:
    """Audio for one bot message, or why there is none."""

    path: Path | None  # audio file in the cache, or None when there is no voice
    media_type: str | None  # "audio/mpeg" (gTTS), "audio/wav" (espeak-ng), "audio/ogg"
    voice: str | None  # "gtts" | "espeak-ng" | None
    reason: str | None  # when path is None: e.g. "no voice for so"

    @property
    def audio_id(self) -> str | None:
        """The id to put in a URL (``/audio/<id>``); :func:`audio_path` maps it back."""
        return self.path.stem if self.path is not None else None


def _none(reason: str) -> Speech:
    return Speech(path=None, media_type=None, voice=None, reason=reason)


# --- settings ---------------------------------------------------------------------------


def _cache_dir() -> Path:
    return Path(os.environ.get("AUDIO_CACHE_DIR") or DEFAULT_CACHE_DIR)


def _online_default() -> bool:
    value = os.environ.get("SPEECH_ONLINE", "on").strip().lower()
    if value in ("on", "true", "1", "yes"):
        return True
    if value in ("off", "false", "0", "no"):
        return False
    log.warning("SPEECH_ONLINE=%r is not 'on' or 'off'; using 'on'", value)
    return True


def _normalise_language(language: str) -> str:
    code = str(language or "").strip().lower().replace("_", "-")
    return code if _LANGUAGE.fullmatch(code) else ""


@lru_cache(maxsize=1)
def gtts_languages() -> frozenset[str]:
    """Language codes gTTS speaks (its offline table); empty when gTTS is not installed."""
    try:
        _quiet_gtts()
        from gtts.lang import tts_langs
    except ImportError:  # pragma: no cover - gTTS is a dependency
        log.warning("gTTS is not installed: no online voice")
        return frozenset()
    return frozenset(code.lower() for code in tts_langs())


def voices(code: str) -> tuple[str | None, str | None]:
    """(gTTS language, espeak-ng voice) for one of our languages, from its ``meta``."""
    if code not in available_languages():
        return None, None
    words = catalogue(code)
    return words.gtts_voice, words.espeak_voice


# --- cache ------------------------------------------------------------------------------


def _audio_id(text: str, language: str, voice: str) -> str:
    key = json.dumps([text, language, voice], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _cached(path: Path) -> bool:
    try:
        return path.is_file() and not path.is_symlink() and path.stat().st_size > 0
    except OSError:
        return False


def _temp_path(directory: Path, audio_id: str, suffix: str) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{audio_id}.", suffix=f"{suffix}.tmp", dir=directory)
    os.close(handle)
    return Path(name)


def _publish(temp: Path, final: Path) -> None:
    """Moves a finished temporary file into place (atomic on one file system)."""
    with open(temp, "rb") as handle:
        os.fsync(handle.fileno())
    os.chmod(temp, 0o644)
    os.replace(temp, final)


_RECEIPT = re.compile(r"PV-[23456789A-Z]{6}", re.IGNORECASE)


def speakable(text: str) -> bool:
    """Bot text that may be spoken and cached: not empty, and without a receipt code.

    A receipt code lets its holder withdraw a response; cached audio of it would keep
    it on disk (and send it to Google), so those messages stay text only.
    """
    return bool(text and text.strip()) and not _RECEIPT.search(text)


def audio_path(audio_id: str) -> Path | None:
    """The cached audio file for an id from a URL, or ``None``.

    Accepts only what :func:`speak` and :func:`for_whatsapp` make: 64 lower-case hex digits,
    optionally with the ``.mp3``, ``.wav`` or ``.ogg`` suffix, naming a regular file (not a
    link) in the cache directory.
    Anything else (``../x``, a path, other characters, an unknown id) gives ``None``.
    """
    if not isinstance(audio_id, str):
        return None
    stem, dot, suffix = audio_id.partition(".")
    if not _AUDIO_ID.fullmatch(stem):
        return None
    suffixes = [f".{suffix}"] if dot else list(MEDIA_TYPES)
    if any(candidate not in MEDIA_TYPES for candidate in suffixes):
        return None
    directory = _cache_dir()
    for candidate in suffixes:
        path = directory / f"{stem}{candidate}"
        if _cached(path):
            return path
    return None


# --- limits -----------------------------------------------------------------------------

_limits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)
_gtts_retry_at = 0.0  # time.monotonic() before which gTTS is not tried


def _limit() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    semaphore = _limits.get(loop)
    if semaphore is None:
        semaphore = _limits[loop] = asyncio.Semaphore(MAX_CONCURRENT)
    return semaphore


def _back_off(seconds: float) -> None:
    global _gtts_retry_at
    _gtts_retry_at = max(_gtts_retry_at, time.monotonic() + seconds)


# --- online voice: gTTS -----------------------------------------------------------------


class _GttsUnavailable(Exception):
    """gTTS could not make the audio; ``backoff`` seconds before trying Google again."""

    def __init__(self, why: str, backoff: float = 0.0) -> None:
        super().__init__(why)
        self.backoff = backoff


def _quiet_gtts() -> None:
    """gTTS logs the text (and the request bodies, which hold it) at DEBUG: not ours."""
    gtts_log = logging.getLogger("gtts")
    if gtts_log.level < logging.INFO:
        gtts_log.setLevel(logging.INFO)


def _gtts_class():
    _quiet_gtts()
    from gtts import gTTS

    return gTTS


def _gtts_fetch(text: str, language: str, deadline: float) -> bytes:
    """Runs in a worker thread: the MP3 for ``text``, or raises :class:`_GttsUnavailable`."""
    import requests

    tts = _gtts_class()(text, lang=language, lang_check=False, timeout=GTTS_REQUEST_TIMEOUT)
    try:
        prepared_requests = tts._prepare_requests()  # one POST per ~100 characters
    except Exception as error:  # e.g. AssertionError: nothing left to say after cleaning
        why = f"gTTS could not prepare the text ({type(error).__name__})"
        raise _GttsUnavailable(why) from error

    audio = bytearray()
    with requests.Session() as session:
        for prepared in prepared_requests:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _GttsUnavailable("timeout", GTTS_BACKOFF_SECONDS)
            connect, read = tts.timeout
            settings = session.merge_environment_settings(prepared.url, {}, None, True, None)
            try:
                response = session.send(
                    prepared, timeout=(min(connect, remaining), min(read, remaining)), **settings
                )
            except requests.Timeout as error:
                raise _GttsUnavailable("timeout", GTTS_BACKOFF_SECONDS) from error
            except requests.RequestException as error:
                raise _GttsUnavailable(type(error).__name__, GTTS_BACKOFF_SECONDS) from error
            if response.status_code == 429:
                raise _GttsUnavailable("HTTP 429", GTTS_BACKOFF_429_SECONDS)
            if response.status_code != 200:
                raise _GttsUnavailable(f"HTTP {response.status_code}", GTTS_BACKOFF_SECONDS)
            part = b""
            for line in response.content.decode("utf-8", "replace").splitlines():
                if "jQ1olc" in line:
                    found = _GTTS_AUDIO.search(line)
                    if found:
                        try:
                            part = base64.b64decode(found.group(1).encode("ascii"))
                        except ValueError as error:
                            raise _GttsUnavailable("undecodable audio in reply") from error
                    break
            if not part:
                raise _GttsUnavailable("no audio in reply", GTTS_BACKOFF_SECONDS)
            audio += part
    return bytes(audio)


def _store(directory: Path, audio_id: str, suffix: str, data: bytes) -> Path:
    final = directory / f"{audio_id}{suffix}"
    temp = _temp_path(directory, audio_id, suffix)
    try:
        temp.write_bytes(data)
        _publish(temp, final)
    finally:
        temp.unlink(missing_ok=True)
    return final


async def _speak_gtts(text: str, language: str, directory: Path, audio_id: str) -> Path:
    deadline = time.monotonic() + GTTS_TIMEOUT
    try:
        audio = await asyncio.wait_for(
            asyncio.to_thread(_gtts_fetch, text, language, deadline), GTTS_TIMEOUT
        )
    except asyncio.TimeoutError as error:
        raise _GttsUnavailable("timeout", GTTS_BACKOFF_SECONDS) from error
    except _GttsUnavailable:
        raise
    except Exception as error:
        raise _GttsUnavailable(type(error).__name__) from error
    return await asyncio.to_thread(_store, directory, audio_id, ".mp3", audio)


# --- offline voice: espeak-ng -----------------------------------------------------------


class _EspeakFailed(Exception):
    pass


def _espeak_binary() -> str | None:
    return shutil.which("espeak-ng")


def _check_wav(path: Path) -> None:
    try:
        with wave.open(str(path), "rb") as audio:
            frames = audio.getnframes()
    except (OSError, EOFError, wave.Error) as error:
        raise _EspeakFailed("offline voice made no readable audio") from error
    if frames <= 0:
        raise _EspeakFailed("offline voice made no audio")


async def _speak_espeak(
    binary: str, text: str, voice: str, directory: Path, audio_id: str
) -> Path:
    final = directory / f"{audio_id}.wav"
    temp = _temp_path(directory, audio_id, ".wav")
    process = None
    try:
        process = await asyncio.create_subprocess_exec(
            binary, "-b", "1", "--stdin", "-v", voice, "-w", str(temp),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await asyncio.wait_for(process.communicate(text.encode("utf-8")), ESPEAK_TIMEOUT)
        except asyncio.TimeoutError as error:
            raise _EspeakFailed("offline voice timed out") from error
        if process.returncode != 0:
            raise _EspeakFailed(f"offline voice failed (exit {process.returncode})")
        await asyncio.to_thread(_check_wav, temp)
        await asyncio.to_thread(_publish, temp, final)
        return final
    finally:
        await _clean_up(process, temp)


async def _clean_up(process: asyncio.subprocess.Process | None, temp: Path) -> None:
    """Stop a voice or converter still running (timeout, cancel) and drop its temp file."""
    if process is not None and process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(Exception):
            await asyncio.shield(process.wait())
    temp.unlink(missing_ok=True)


# --- the API ----------------------------------------------------------------------------


async def speak(text: str, language: str, *, online: bool | None = None) -> Speech:
    """Audio for a bot message in ``language``; never raises.

    Only ever pass the bot's own messages (catalogue text), never a patient's words: the text
    goes to Google when ``online`` and is cached on disk. ``online=None`` reads env
    ``SPEECH_ONLINE`` ("on"/"off", default "on"). The order: gTTS cache, gTTS (if online, the
    language is supported and Google is not being left alone after a failure), espeak-ng
    cache, espeak-ng.
    """
    try:
        return await _speak(text, language, online)
    except Exception as error:  # the contract: say there is no audio, don't fail the chat
        log.error(
            "speech failed: %s (language=%s)", type(error).__name__, _normalise_language(language)
        )
        return _none("speech failed")


async def _speak(text: str, language: str, online: bool | None) -> Speech:
    text = (text or "").strip()
    code = _normalise_language(language)
    if not text:
        return _none("nothing to say")
    if len(text) > MAX_TEXT_LENGTH:
        return _none(f"text too long to speak (over {MAX_TEXT_LENGTH} characters)")
    if online is None:
        online = _online_default()

    gtts_voice, espeak_voice = voices(code)
    use_gtts = bool(online and gtts_voice and gtts_voice.lower() in gtts_languages())
    if not use_gtts and espeak_voice is None:
        return _none(f"no voice for {code or 'this language'}")

    directory = _cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        log.error("audio cache %s is not usable: %s", directory, type(error).__name__)
        return _none("audio cache not writable")

    if use_gtts:
        audio_id = _audio_id(text, code, GTTS)
        path = directory / f"{audio_id}.mp3"
        if _cached(path):
            return _made(path, GTTS, code, cached=True)
        if time.monotonic() >= _gtts_retry_at:
            started = time.monotonic()
            async with _limit():
                if _cached(path):
                    return _made(path, GTTS, code, cached=True)
                try:
                    path = await _speak_gtts(text, gtts_voice, directory, audio_id)
                except _GttsUnavailable as error:
                    if error.backoff:
                        _back_off(error.backoff)
                    log.warning(
                        "online voice unavailable (%s) for language=%s after %.1fs; %s",
                        error, code, time.monotonic() - started,
                        "using the offline voice" if espeak_voice else "no offline voice",
                    )
                else:
                    return _made(path, GTTS, code, cached=False, started=started)

    if espeak_voice is None:
        return _none(f"no voice for {code}")
    audio_id = _audio_id(text, code, f"{ESPEAK}:{espeak_voice}")
    path = directory / f"{audio_id}.wav"
    if _cached(path):
        return _made(path, ESPEAK, code, cached=True)
    binary = _espeak_binary()
    if binary is None:
        log.warning("espeak-ng is not installed: no offline voice (run .ci/install-speech.sh)")
        return _none("no offline voice installed")
    started = time.monotonic()
    async with _limit():
        if _cached(path):
            return _made(path, ESPEAK, code, cached=True)
        try:
            path = await _speak_espeak(binary, text, espeak_voice, directory, audio_id)
        except _EspeakFailed as error:
            log.error("%s (language=%s)", error, code)
            return _none(str(error))
    return _made(path, ESPEAK, code, cached=False, started=started)


def _made(path: Path, voice: str, language: str, *, cached: bool, started: float = 0.0) -> Speech:
    if cached:
        log.debug("speech cache hit: voice=%s language=%s id=%s", voice, language, path.stem)
    else:
        log.info(
            "speech made: voice=%s language=%s id=%s in %.2fs",
            voice, language, path.stem, time.monotonic() - started,
        )
    return Speech(path=path, media_type=MEDIA_TYPES[path.suffix], voice=voice, reason=None)


# --- OGG/Opus for WhatsApp: ffmpeg --------------------------------------------------------


class _ConversionFailed(Exception):
    pass


def _ffmpeg_binary() -> str | None:
    return shutil.which(FFMPEG)


def _ogg_id(wav_id: str) -> str:
    key = json.dumps(["ogg", "libopus", OPUS_BITRATE, wav_id], separators=(",", ":"))
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def _check_ogg(path: Path) -> None:
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as error:
        raise _ConversionFailed("audio converter made no readable audio") from error
    if head != b"OggS":
        raise _ConversionFailed("audio converter made no OGG audio")


async def _convert_ogg(binary: str, wav: Path, directory: Path, ogg_id: str) -> Path:
    final = directory / f"{ogg_id}.ogg"
    temp = _temp_path(directory, ogg_id, ".ogg")
    process = None
    try:
        # -y: mkstemp made the (empty) temporary file; -f ogg: its name ends in .tmp.
        process = await asyncio.create_subprocess_exec(
            binary, "-nostdin", "-loglevel", "error", "-y", "-i", str(wav),
            "-vn", "-map_metadata", "-1", "-c:a", "libopus", "-b:a", OPUS_BITRATE,
            "-f", "ogg", str(temp),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await asyncio.wait_for(process.wait(), FFMPEG_TIMEOUT)
        except asyncio.TimeoutError as error:
            raise _ConversionFailed("audio converter timed out") from error
        if process.returncode != 0:
            raise _ConversionFailed(f"audio converter failed (exit {process.returncode})")
        await asyncio.to_thread(_check_ogg, temp)
        await asyncio.to_thread(_publish, temp, final)
        return final
    finally:
        await _clean_up(process, temp)


async def for_whatsapp(speech: Speech) -> Speech:
    """``speech`` as audio WhatsApp plays; never raises.

    WAV (the offline voice) becomes OGG/Opus (``audio/ogg``), cached next to it under its
    own id; MP3 (the online voice), OGG and "no audio" pass through unchanged. No ffmpeg:
    ``Speech(path=None, reason="no audio converter installed")``.
    """
    if speech.path is None or speech.media_type != MEDIA_TYPES[".wav"]:
        return speech
    try:
        return await _for_whatsapp(speech)
    except Exception as error:  # the contract: say there is no audio, don't fail the chat
        log.error("audio conversion failed: %s", type(error).__name__)
        return _none("audio conversion failed")


async def _for_whatsapp(speech: Speech) -> Speech:
    assert speech.path is not None
    wav_id = speech.path.stem
    if not _AUDIO_ID.fullmatch(wav_id):
        return _none("not audio from the cache")
    directory = _cache_dir()
    ogg_id = _ogg_id(wav_id)
    path = directory / f"{ogg_id}.ogg"
    if _cached(path):
        log.debug("speech cache hit: ogg id=%s from %s", ogg_id, wav_id)
        return Speech(path=path, media_type=MEDIA_TYPES[".ogg"], voice=speech.voice, reason=None)
    if not _cached(speech.path):
        return _none("no audio to convert")
    binary = _ffmpeg_binary()
    if binary is None:
        log.warning("ffmpeg is not installed: no OGG audio (run .ci/install-speech.sh)")
        return _none("no audio converter installed")
    directory.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    async with _limit():
        if not _cached(path):
            try:
                path = await _convert_ogg(binary, speech.path, directory, ogg_id)
            except _ConversionFailed as error:
                log.error("%s (id=%s)", error, wav_id)
                return _none(str(error))
            log.info("speech converted: ogg id=%s from %s in %.2fs", ogg_id, wav_id,
                     time.monotonic() - started)
    return Speech(path=path, media_type=MEDIA_TYPES[".ogg"], voice=speech.voice, reason=None)

"""bot/speech.py: gTTS against a fake Google at the HTTP layer, espeak-ng for real, the cache.

Every test runs inside a ``responses`` mock with no passthrough (the autouse ``google``
fixture), so no request can reach the real Google: an unexpected one fails with a
ConnectionError and is counted. Tests that need the offline voice ask for the ``espeak``
fixture, and those that convert to OGG/Opus the ``ffmpeg`` fixture: without the binary they
skip locally and FAIL in CI (CI=true).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
import responses
from tools import require_tool

from bot import speech

GOOGLE_TTS = "https://translate.google.com/_/TranslateWebserverUi/data/batchexecute"

# One sentence per language, in its own script, for the offline voice.
SAMPLES = {
    "en": "Overall, how was your experience of our service?",
    "cy": "Yn gyffredinol, sut oedd eich profiad o'n gwasanaeth?",
    "pl": "Ogólnie, jak oceniasz swoje doświadczenie z naszą usługą?",
    "ro": "În general, cum a fost experiența dumneavoastră cu serviciul nostru?",
    "ur": "مجموعی طور پر، ہماری سروس کے ساتھ آپ کا تجربہ کیسا رہا؟",
    "pa": "ਕੁੱਲ ਮਿਲਾ ਕੇ, ਸਾਡੀ ਸੇਵਾ ਨਾਲ ਤੁਹਾਡਾ ਤਜਰਬਾ ਕਿਹੋ ਜਿਹਾ ਰਿਹਾ?",
    "bn": "সামগ্রিকভাবে, আমাদের পরিষেবা নিয়ে আপনার অভিজ্ঞতা কেমন ছিল?",
    "gu": "એકંદરે, અમારી સેવા સાથે તમારો અનુભવ કેવો રહ્યો?",
    "ar": "بشكل عام، كيف كانت تجربتك مع خدمتنا؟",
    "pt": "No geral, como foi a sua experiência com o nosso serviço?",
    "es": "En general, ¿cómo fue su experiencia con nuestro servicio?",
    "uk": "Загалом, яким був ваш досвід користування нашою службою?",
}


# --- fakes ------------------------------------------------------------------------------


def mp3_frames(count: int = 8) -> bytes:
    """Real MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz, mono) of silence.

    Header FF FB 90 C0, 417 bytes a frame; all-zero side information and main data decode to
    silence, so any MP3 decoder plays this.
    """
    frame = bytes([0xFF, 0xFB, 0x90, 0xC0]) + bytes(417 - 4)
    return frame * count


def mp3_frame_count(data: bytes) -> int:
    """Walks MPEG-1 Layer III frame headers; fails on anything that is not a frame."""
    bitrates = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
    rates = [44100, 48000, 32000]
    offset = frames = 0
    while offset < len(data):
        header = data[offset : offset + 4]
        assert len(header) == 4 and header[0] == 0xFF and header[1] & 0xFE == 0xFA, offset
        bitrate = bitrates[header[2] >> 4] * 1000
        rate = rates[(header[2] >> 2) & 0x3]
        padding = (header[2] >> 1) & 0x1
        offset += 144 * bitrate // rate + padding
        frames += 1
    assert offset == len(data)
    return frames


def google_reply(audio: bytes) -> str:
    """What Google's batchexecute endpoint answers to gTTS's jQ1olc RPC."""
    payload = json.dumps([base64.b64encode(audio).decode("ascii")])
    envelope = [
        ["wrb.fr", "jQ1olc", payload, None, None, None, "generic"],
        ["di", 57],
        ["af.httprm", 56, "-4958012391231981717", 9],
    ]
    chunk = json.dumps(envelope, separators=(",", ":"))
    tail = '[["e",4,null,null,179]]'
    return f")]}}'\n\n{len(chunk)}\n{chunk}\n{len(tail)}\n{tail}\n"


def rpc_of(request: requests.PreparedRequest) -> list:
    """The [text, language, speed, "null"] that gTTS posted in its f.req form field."""
    body = request.body if isinstance(request.body, str) else request.body.decode()
    rpc = json.loads(parse_qs(body)["f.req"][0])
    assert rpc[0][0][0] == "jQ1olc"
    return json.loads(rpc[0][0][1])


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh audio cache, offline unless a test says otherwise, no gTTS back-off."""
    cache = tmp_path / "audio"
    monkeypatch.setenv("AUDIO_CACHE_DIR", str(cache))
    monkeypatch.setenv("SPEECH_ONLINE", "off")
    monkeypatch.setattr(speech, "_gtts_retry_at", 0.0)
    return cache


@pytest.fixture(autouse=True)
def google():
    """Every test runs under a requests mock with no passthrough: Google is never reached."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        assert mock.passthru_prefixes == ()
        yield mock


@pytest.fixture
def espeak() -> str:
    return require_tool("espeak-ng")


@pytest.fixture
def ffmpeg() -> str:
    return require_tool("ffmpeg")


@pytest.fixture
def launches(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Counts every subprocess the module starts (each one is an espeak-ng run)."""
    started: list[tuple] = []
    real = asyncio.create_subprocess_exec

    async def counting(*args, **kwargs):
        started.append(args)
        return await real(*args, **kwargs)

    monkeypatch.setattr(speech.asyncio, "create_subprocess_exec", counting)
    return started


def read_wav(path: Path) -> tuple[int, int, bytes]:
    with wave.open(str(path), "rb") as audio:
        assert audio.getnchannels() == 1
        assert audio.getsampwidth() == 2
        return audio.getframerate(), audio.getnframes(), audio.readframes(audio.getnframes())


def assert_speech_wav(result: speech.Speech) -> None:
    assert result.reason is None
    assert result.voice == "espeak-ng" and result.media_type == "audio/wav"
    assert result.path is not None and result.path.suffix == ".wav"
    rate, frames, data = read_wav(result.path)
    assert 8000 <= rate <= 48000
    assert frames / rate > 0.5, "under half a second of speech"
    samples = memoryview(data).cast("h")
    assert max(abs(s) for s in samples) > 1000, "only silence"


def test_core_module_imports_no_rasa_and_no_gtts():
    code = (
        "import sys, bot.speech; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'rasa', 'rasa_sdk', 'gtts'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- online voice: gTTS against a fake Google -------------------------------------------


async def test_gtts_success_writes_the_mp3_google_sent(google, caplog):
    caplog.set_level(logging.DEBUG)
    audio = mp3_frames()
    google.add(responses.POST, GOOGLE_TTS, body=google_reply(audio), status=200)
    text = "Overall, how was your experience of our service?"

    result = await speech.speak(text, "en", online=True)

    assert result.voice == "gtts" and result.media_type == "audio/mpeg" and result.reason is None
    assert result.path is not None and result.path.suffix == ".mp3"
    assert result.path.read_bytes() == audio
    assert mp3_frame_count(result.path.read_bytes()) == 8
    assert len(google.calls) == 1
    sent = google.calls[0].request
    assert rpc_of(sent)[:2] == [text, "en"]
    # gTTS itself sends with verify=False; we verify (True, or the REQUESTS_CA_BUNDLE path).
    assert sent.req_kwargs["verify"] not in (False, None, "")
    assert sent.req_kwargs["timeout"] is not None
    assert speech.audio_path(result.audio_id) == result.path
    assert text not in caplog.text and "experience" not in caplog.text


async def test_gtts_long_text_is_sent_in_parts_and_joined(google):
    parts: list[str] = []

    def reply(request):
        parts.append(rpc_of(request)[0])
        return 200, {}, google_reply(mp3_frames(len(parts)))

    google.add_callback(responses.POST, GOOGLE_TTS, callback=reply)
    text = " ".join(["Thank you for telling us about your care today."] * 5)

    result = await speech.speak(text, "cy", online=True)

    assert result.voice == "gtts"
    assert len(parts) > 1 and all(len(part) <= 100 for part in parts)
    assert mp3_frame_count(result.path.read_bytes()) == sum(range(1, len(parts) + 1))


async def test_gtts_is_not_called_for_somali(google):
    result = await speech.speak("Mahadsanid", "so", online=True)

    assert result == speech.Speech(None, None, None, "no voice for so")
    assert len(google.calls) == 0


@pytest.mark.parametrize(
    "reply",
    [
        {"status": 429, "body": "Too Many Requests"},
        {"status": 500, "body": "oops"},
        {"status": 200, "body": ")]}'\n\n[[\"wrb.fr\",\"other\",null]]\n"},  # no audio
        {"body": requests.exceptions.ReadTimeout("read timed out")},
        {"body": requests.exceptions.ConnectTimeout("connect timed out")},
        {"body": requests.exceptions.ConnectionError("no route")},
    ],
    ids=["429", "500", "no-audio", "read-timeout", "connect-timeout", "unreachable"],
)
async def test_gtts_failure_falls_back_to_espeak(google, espeak, launches, reply):
    google.add(responses.POST, GOOGLE_TTS, **reply)

    result = await speech.speak(SAMPLES["pl"], "pl", online=True)

    assert len(google.calls) == 1
    assert len(launches) == 1
    assert_speech_wav(result)


async def test_after_429_google_is_left_alone(google, espeak):
    google.add(responses.POST, GOOGLE_TTS, status=429)

    first = await speech.speak(SAMPLES["en"], "en", online=True)
    second = await speech.speak("Thank you.", "en", online=True)

    assert first.voice == second.voice == "espeak-ng"
    assert len(google.calls) == 1, "Google was asked again during the back-off"


async def test_gtts_slower_than_the_timeout_falls_back(google, espeak, monkeypatch):
    monkeypatch.setattr(speech, "GTTS_TIMEOUT", 0.3)
    requests_started: list[float] = []
    finished = threading.Event()

    def slow(request):
        requests_started.append(time.monotonic())
        time.sleep(2.0)
        finished.set()
        return 200, {}, google_reply(mp3_frames())

    google.add_callback(responses.POST, GOOGLE_TTS, callback=slow)
    text = " ".join([SAMPLES["en"]] * 3)  # three parts for gTTS
    started = time.monotonic()

    result = await speech.speak(text, "en", online=True)

    assert time.monotonic() - started < 1.5, "waited for the slow online voice"
    assert_speech_wav(result)
    # The worker thread cannot be cancelled: it finishes the request in flight (inside the
    # mock), then sends no more parts and keeps no late audio.
    assert finished.wait(5)
    await asyncio.sleep(0.3)
    assert len(requests_started) == 1, "kept asking Google after the timeout"
    assert list(Path(os.environ["AUDIO_CACHE_DIR"]).glob("*.mp3")) == [], "late audio kept"


async def test_online_default_comes_from_the_environment(google, monkeypatch):
    google.add(responses.POST, GOOGLE_TTS, body=google_reply(mp3_frames()))

    monkeypatch.setenv("SPEECH_ONLINE", "on")
    assert (await speech.speak("Hello.", "en")).voice == "gtts"
    assert len(google.calls) == 1

    monkeypatch.setenv("SPEECH_ONLINE", "off")
    monkeypatch.setenv("PATH", "")  # and no offline voice either
    result = await speech.speak("Goodbye.", "en")
    assert result == speech.Speech(None, None, None, "no offline voice installed")
    assert len(google.calls) == 1


# --- offline voice: espeak-ng for real --------------------------------------------------


@pytest.mark.parametrize("language", sorted(SAMPLES))
async def test_offline_voice_makes_a_decodable_wav(language, espeak, caplog):
    caplog.set_level(logging.DEBUG)

    result = await speech.speak(SAMPLES[language], language, online=False)

    assert_speech_wav(result)
    assert SAMPLES[language] not in caplog.text


async def test_offline_voice_reads_text_from_stdin_not_argv(espeak, launches):
    text = "-v xx --help; $(touch /tmp/pwned) <speak>Hello</speak>"

    result = await speech.speak(text, "en", online=False)

    assert_speech_wav(result)
    (argv,) = launches
    assert text not in argv and all("Hello" not in str(arg) for arg in argv)


async def test_somali_offline_says_no_voice(launches):
    result = await speech.speak("Mahadsanid", "so", online=False)

    assert result.path is None and result.voice is None
    assert result.reason == "no voice for so"
    assert launches == []


async def test_missing_espeak_says_so(monkeypatch, launches):
    monkeypatch.setenv("PATH", "")

    result = await speech.speak(SAMPLES["cy"], "cy", online=False)

    assert result == speech.Speech(None, None, None, "no offline voice installed")
    assert launches == []


async def test_empty_and_oversize_text_are_not_spoken(launches):
    assert (await speech.speak("   ", "en", online=False)).reason == "nothing to say"
    long = await speech.speak("a" * (speech.MAX_TEXT_LENGTH + 1), "en", online=False)
    assert long.path is None and "too long" in long.reason
    assert launches == []


# --- cache ------------------------------------------------------------------------------


async def test_offline_cache_hit_does_not_run_the_voice(espeak, launches, isolated):
    first = await speech.speak(SAMPLES["ur"], "ur", online=False)
    made = first.path.stat().st_mtime_ns

    second = await speech.speak(SAMPLES["ur"], "ur", online=False)

    assert second == first
    assert len(launches) == 1
    assert second.path.stat().st_mtime_ns == made
    assert [p.name for p in isolated.iterdir()] == [first.path.name]  # no temp files left
    # The key is (text, language, voice): another language is another file.
    other = await speech.speak(SAMPLES["ur"], "pa", online=False)
    assert other.path != first.path and len(launches) == 2


async def test_gtts_cache_hit_does_not_call_google(google):
    google.add(responses.POST, GOOGLE_TTS, body=google_reply(mp3_frames()))

    first = await speech.speak("Thank you.", "en", online=True)
    second = await speech.speak("Thank you.", "en", online=True)

    assert second == first and first.voice == "gtts"
    assert len(google.calls) == 1


async def test_concurrent_requests_share_one_cache_file(espeak):
    results = await asyncio.gather(
        *(speech.speak(SAMPLES["gu"], "gu", online=False) for _ in range(4))
    )

    assert len({r.path for r in results}) == 1
    assert_speech_wav(results[0])


# --- audio_path -------------------------------------------------------------------------


async def test_audio_path_serves_only_files_we_made(espeak, isolated):
    made = await speech.speak(SAMPLES["en"], "en", online=False)
    audio_id = made.audio_id
    assert re.fullmatch(r"[0-9a-f]{64}", audio_id)

    assert speech.audio_path(audio_id) == made.path
    assert speech.audio_path(f"{audio_id}.wav") == made.path

    (isolated / "secret.txt").write_text("no")
    (isolated / f"{'0' * 64}.wav.tmp").write_bytes(b"RIFF")
    os.symlink("/etc/passwd", isolated / f"{'1' * 64}.wav")
    for bad in [
        "../x",
        "..",
        "",
        "/etc/passwd",
        "secret.txt",
        f"../{audio_id}",
        f"{audio_id}/../{audio_id}",
        f"{audio_id}.mp3",  # not made
        f"{audio_id}.ogg",  # not made
        f"{audio_id}.txt",
        f"{audio_id}.wav.tmp",
        f"{audio_id}\n",
        audio_id.upper(),
        audio_id[:-1],
        audio_id + "0",
        "0" * 64,  # only a temporary file
        "1" * 64,  # a symlink
        "z" * 64,
        "%2e%2e%2fx",
    ]:
        assert speech.audio_path(bad) is None, bad
    assert speech.audio_path(None) is None  # type: ignore[arg-type]


# --- OGG/Opus for WhatsApp: ffmpeg for real ---------------------------------------------


def ogg_page_count(data: bytes) -> int:
    """Walks the Ogg pages; fails on anything that is not one."""
    offset = pages = 0
    while offset < len(data):
        assert data[offset : offset + 4] == b"OggS", offset
        segments = data[offset + 26]
        table = data[offset + 27 : offset + 27 + segments]
        offset += 27 + segments + sum(table)
        pages += 1
    assert offset == len(data)
    return pages


@pytest.mark.parametrize("language", ["en", "ur"])
async def test_offline_wav_becomes_ogg_opus_for_whatsapp(
    language, espeak, ffmpeg, launches, isolated, caplog
):
    caplog.set_level(logging.DEBUG)
    wav = await speech.speak(SAMPLES[language], language, online=False)
    assert_speech_wav(wav)

    result = await speech.for_whatsapp(wav)

    assert result.reason is None and result.voice == "espeak-ng"
    assert result.media_type == "audio/ogg"
    assert result.path is not None and result.path.suffix == ".ogg"
    assert result.path.parent == isolated and result.path.stem != wav.path.stem
    data = result.path.read_bytes()
    assert len(data) > 100 and data[:4] == b"OggS"
    assert b"OpusHead" in data[:64]
    assert ogg_page_count(data) >= 2
    assert speech.MEDIA_TYPES[result.path.suffix] == "audio/ogg"
    assert speech.audio_path(result.audio_id) == result.path
    assert speech.audio_path(f"{result.audio_id}.ogg") == result.path
    assert wav.path.is_file()  # the WAV stays for the web chat
    (_, converted) = launches
    assert converted[0] == ffmpeg and "libopus" in converted
    assert SAMPLES[language] not in caplog.text
    assert sorted(p.suffix for p in isolated.iterdir()) == [".ogg", ".wav"]  # no temp files


async def test_ogg_cache_hit_does_not_run_ffmpeg(espeak, ffmpeg, launches, isolated):
    wav = await speech.speak(SAMPLES["en"], "en", online=False)
    first = await speech.for_whatsapp(wav)
    made = first.path.stat().st_mtime_ns

    second = await speech.for_whatsapp(wav)
    again = await speech.for_whatsapp(await speech.speak(SAMPLES["en"], "en", online=False))

    assert second == first == again and first.media_type == "audio/ogg"
    assert len(launches) == 2  # one espeak-ng, one ffmpeg
    assert second.path.stat().st_mtime_ns == made
    # Another WAV is another OGG.
    other = await speech.for_whatsapp(await speech.speak(SAMPLES["en"], "cy", online=False))
    assert other.path != first.path and other.media_type == "audio/ogg"


async def test_concurrent_conversions_share_one_ogg(espeak, ffmpeg, isolated):
    wav = await speech.speak(SAMPLES["pl"], "pl", online=False)

    results = await asyncio.gather(*(speech.for_whatsapp(wav) for _ in range(4)))

    assert len({r.path for r in results}) == 1 and results[0].media_type == "audio/ogg"
    assert len(list(isolated.glob("*.ogg"))) == 1
    assert not [p for p in isolated.iterdir() if p.name.startswith(".")]


async def test_mp3_and_no_audio_pass_through_unchanged(google, launches):
    google.add(responses.POST, GOOGLE_TTS, body=google_reply(mp3_frames()))
    mp3 = await speech.speak("Thank you.", "en", online=True)
    assert mp3.media_type == "audio/mpeg"

    assert await speech.for_whatsapp(mp3) == mp3
    nothing = speech.Speech(None, None, None, "no voice for so")
    assert await speech.for_whatsapp(nothing) == nothing
    assert launches == []


async def test_missing_ffmpeg_says_so(espeak, launches, monkeypatch, isolated):
    wav = await speech.speak(SAMPLES["en"], "en", online=False)
    monkeypatch.setenv("PATH", "")
    assert shutil.which("ffmpeg") is None

    result = await speech.for_whatsapp(wav)

    assert result == speech.Speech(None, None, None, "no audio converter installed")
    assert len(launches) == 1  # espeak-ng only
    assert list(isolated.glob("*.ogg")) == []


async def test_a_failed_conversion_says_so_and_keeps_nothing(
    espeak, ffmpeg, launches, isolated, monkeypatch
):
    wav = await speech.speak(SAMPLES["en"], "en", online=False)
    monkeypatch.setattr(speech, "_ffmpeg_binary", lambda: "/bin/false")

    result = await speech.for_whatsapp(wav)

    assert result.path is None and result.reason == "audio converter failed (exit 1)"
    assert [p.suffix for p in isolated.iterdir()] == [".wav"]  # no OGG, no temp file

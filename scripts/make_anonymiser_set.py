"""Generate the labelled anonymiser test set: tests/data/anonymiser/{tune,test}.jsonl.

Every example is a patient comment with identifiers embedded, and the character span and
kind of each identifier::

    {"id": "en-017-3", "template": "en-017", "lang": "en", "source": "generated",
     "text": "...", "spans": [{"start": 12, "end": 24, "kind": "PHONE", "from": "faker"}]}

Where the identifiers come from:

* names: Faker ``en_GB`` (English, Welsh comments), ``pl_PL`` (Polish), ``en_PK``
  (Urdu comments in Latin script), a hand-written list in Urdu script, names that are
  also ordinary words ("Grace", "Will", "May"), and names from Faker locales the
  anonymiser's name list does not use (``de_DE``, ``fr_FR``, ``it_IT``, ``nl_NL``,
  ``sv_SE``, ``tr_TR``, ``fi_FI``), in their own case, lower case or capitals;
* NHS numbers: the ``nhs-number`` package's synthetic range (999 ...), grouped in every
  common way, with full-width digits or zero-width characters;
* phone numbers: Faker ``en_GB`` (Ofcom drama ranges) in many written forms;
* e-mail addresses (plain and spelt out), postcodes (any case, with or without the
  space), dates of birth, addresses (UK street words), web addresses, social handles,
  and the trust's staff, ward and site names (``trust.json`` beside the set);
* hand-written hard cases, and comments with no identifier at all but with 111, 999,
  ages, times, ward numbers and ordinary words that are also names.

Templates, not examples, are split: each template (a comment pattern, in one language)
goes wholly into ``tune.jsonl`` or ``test.jsonl``, half and half per language and group,
with a fixed seed. Tune the anonymiser on ``tune.jsonl`` only; ``scripts/privacy_report.py``
reports on ``test.jsonl``. The Polish, Welsh and Urdu templates were written by a
non-native speaker and are not reviewed.

Needs ``faker`` and ``nhs-number`` (dev dependencies). Same versions, same output:

    .venv/bin/python scripts/make_anonymiser_set.py
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

import nhs_number
from faker import Faker

SEED = 20261126
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "anonymiser"

TRUST = {
    "staff_names": ["Bronwen Tudor-Hughes", "Kwabena Mensah", "Ailsa Fairbairn", "Tomasz Wrona"],
    "ward_names": ["Bluebell Ward", "Kingfisher Ward", "Ward 7B", "Seacole Unit"],
    "site_names": ["Northgate General Hospital", "Riverside Health Centre", "Castle Hill Clinic"],
}

UNSEEN_LOCALES = ("de_DE", "fr_FR", "it_IT", "nl_NL", "sv_SE", "tr_TR", "fi_FI")
ORDINARY_WORD_NAMES = (
    "Grace Hope Will May Bill Rose Mark Faith Joy Dawn Summer Ray Pat Sue Frank Drew Jack "
    "Iris Amber Holly Rich"
).split()
URDU_SCRIPT_NAMES = (
    "احمد فاطمہ عائشہ محمد علی بلال زینب حسن عمران نادیہ سلمیٰ طارق شازیہ کامران رضیہ".split()
)
URDU_SCRIPT_SURNAMES = "خان بٹ چوہدری قریشی ملک شاہ".split()
STREET_WORDS = (
    "Road Street Lane Avenue Close Drive Way Court Crescent Place Gardens Terrace Grove "
    "Row Walk Square Mews Rise View Green Parade Hill Park"
).split()
STREET_NAMES = "High Station Church Mill Victoria Park Queens Kings Manor Chapel".split()

# --------------------------------------------------------------------- templates
# {first} {last} {full}: a name (the language's source), in a random case;
# {given}: a given name only; {amb}: a name that is also an ordinary word;
# {unseen}: a name from a locale the anonymiser's list does not use;
# {urname}: a name in Urdu script; {staff} {ward} {site}: from the trust's lists;
# {nhs} {phone} {email} {postcode} {dob} {address} {flat} {url} {handle}.
# Literal identifiers in hard cases: [[KIND|value]].

TEMPLATES: dict[str, list[str]] = {
    "en": [
        "My NHS number is {nhs} if you need to find my notes.",
        "Please ring me on {phone} about the appointment, I never got the letter.",
        "You can email me at {email} if you want to talk about what happened.",
        "We live at {address}, {postcode} and the ambulance took over an hour to find us.",
        "I was born {dob} and the receptionist kept getting my age wrong.",
        "Dr {last} explained everything really clearly and I felt listened to.",
        "Nurse {given} was amazing with my mum, nothing was too much trouble.",
        "my daughter {given} came with me and they let her stay the whole time",
        "Thanks to {given} on reception who sorted my parking out.",
        "thank you to {full} for being so patient with my dad",
        "{full} the physio got me walking again after my hip operation.",
        "I want to complain about {full}, she was rude to my husband.",
        "Sister {last} on the night shift made sure I had pain relief.",
        "My son {amb} has autism and the waiting room was far too loud for him.",
        "Special thanks to {amb} in pharmacy for explaining my tablets.",
        "Matron {last} came to see us and apologised, which meant a lot.",
        "The letter went to {address} but I moved to {flat}, {address} last year.",
        "Text me on {phone} or message me on instagram {handle}.",
        "I posted about this at {url} so other parents know.",
        "The staff on {ward} at {site} were brilliant.",
        "{staff} was the best midwife I could have asked for.",
        "my husband {full} (NHS {nhs}) was discharged without his medication",
        "Contact: {full}, {phone}, {email}",
        "I am {age} and have been waiting {num} weeks. My details are {nhs}, {postcode}.",
        "Please pass my thanks to Dr {full} and the team on {ward}.",
        "{given} at the front desk was lovely but the wait was 4 hours.",
        "i saw dr {last} and nurse {given} and both were kind",
        "our carer {unseen} rang 111 for us and they sent someone out",
        "My wife {unseen} does not speak English well and there was no interpreter.",
        "Dr {unseen} in A&E was very thorough. My number is {phone}.",
        "My name is {full} and my date of birth is {dob}.",
        "postcode {postcode} - the transport never turned up",
        "Email {email} or write to {address}, {postcode}.",
        "Thank you {given}! You made a scary day bearable.",
        "My grandad {full}, DOB {dob}, was left on a trolley all night.",
        "call me back on {phone} please, or my partner {given} on {phone}",
        "Nurse {amb} and Dr {last} looked after me on {ward}.",
        "i would like to thank {unseen} and {given} from the ward",
        "The doctor at {site} told my mum {unseen} to come back in May.",
        "I'm {given}, my NHS number is {nhs} and my mobile is {phone}.",
        "Mr {last} the surgeon was very professional.",
        "find me on facebook {url} or twitter {handle}",
        "I rang {phone} six times and nobody answered.",
        "My neighbour {full} drove me because the bus from {postcode} is every 2 hours.",
    ],
    "pl": [
        "Mój numer NHS to {nhs}, proszę sprawdzić moje dane.",
        "Proszę zadzwonić na {phone}, nie dostałam listu.",
        "Mój adres e-mail: {email}",
        "Mieszkam pod adresem {address}, {postcode}.",
        "Urodziłam się {dob}.",
        "Doktor {last} był bardzo miły i wszystko wytłumaczył.",
        "Pielęgniarka {given} bardzo mi pomogła, dziękuję!",
        "Moja córka {given} musiała tłumaczyć, bo nie było tłumacza.",
        "Dziękuję pani {given} z recepcji za pomoc.",
        "Mój mąż {full} czekał 6 godzin na izbie przyjęć.",
        "Dr {unseen} na oddziale {ward} był wspaniały.",
        "Mam na imię {full}, mój telefon to {phone}.",
        "Chciałabym podziękować {staff} za opiekę w {site}.",
        "Proszę pisać na {email} albo dzwonić {phone}.",
    ],
    "cy": [
        "Fy rhif GIG yw {nhs}.",
        "Ffoniwch fi ar {phone} os gwelwch yn dda.",
        "Fy e-bost yw {email}.",
        "Rydw i'n byw yn {address}, {postcode}.",
        "Cefais fy ngeni ar {dob}.",
        "Roedd Dr {last} yn garedig iawn ac yn esbonio popeth.",
        "Diolch i {given} yn y dderbynfa am ei help.",
        "Roedd y nyrs {given} yn wych gyda fy mam.",
        "Daeth fy merch {given} gyda fi i'r apwyntiad.",
        "Fy enw i yw {full} a fy rhif ffôn yw {phone}.",
        "Roedd y staff ar {ward} yn {site} yn ardderchog.",
        "Diolch yn fawr i {staff} a Dr {unseen}.",
    ],
    "ur": [
        "میرا NHS نمبر {nhs} ہے۔",
        "براہ کرم مجھے {phone} پر فون کریں۔",
        "میرا ای میل {email} ہے۔",
        "میں {address}, {postcode} میں رہتی ہوں۔",
        "میری تاریخ پیدائش DOB {dob} ہے۔",
        "ڈاکٹر {urname} بہت اچھے تھے اور سب کچھ سمجھایا۔",
        "نرس {urname} نے میری امی کا بہت خیال رکھا۔",
        "میری بیٹی {urname} نے ترجمہ کیا کیونکہ مترجم نہیں تھا۔",
        "میرا نام {urname} ہے اور میرا فون نمبر {phone} ہے۔",
        "Dr {last} was very kind, شکریہ {given}۔",
        "میرے شوہر {urname} کو {site} میں چھ گھنٹے انتظار کرنا پڑا۔",
        "{ward} کا عملہ بہت اچھا تھا، خاص طور پر {staff}۔",
    ],
}

# Comments with no identifier: what must stay.
NEGATIVE: dict[str, list[str]] = {
    "en": [
        "I waited 3 hours in A&E and the nurse was lovely.",
        "If you feel unsafe ring 111 or 999, or the Samaritans on 116 123.",
        "I am 84 and my wife is 79, we need a bench near the door.",
        "I will hope for the best but the bill for parking was £12.",
        "May I say the care was excellent from start to finish.",
        "There was no grace period on the car park, I got a fine in May.",
        "The ward was clean, the food was cold and bed 12 was broken.",
        "Will someone please fix the lift on level 2? It has been broken for weeks.",
        "we rose early to get there for 8.30 and still waited until 11",
        "Mark my words, the wait times are getting worse every year.",
        "Appointment at 10:30 on 3rd March, seen at 12:15.",
        "My faith in the NHS was restored by the team on the stroke unit.",
        "The doctor said I could go home but I had to wait for tablets till 9pm.",
        "I hope the new building has more toilets. Rooms 12 14 16 were all shared.",
        "Joy of joys, the x-ray machine was working this time!",
        "The summer heat on the ward was unbearable, we need fans.",
        "Grace and kindness from every member of staff, thank you all.",
        "It cost me £25 in taxis. The bus only comes every 2 hours.",
        "My sister came with me and they were very patient with her questions.",
        "Call 0800 1111 for Childline was on the poster, which was useful.",
    ],
    "pl": [
        "Czekałam 5 godzin, ale pielęgniarki były bardzo miłe.",
        "Mam 67 lat i potrzebowałam tłumacza, którego nie było.",
        "W nagłych wypadkach dzwonię pod 999 albo 111.",
        "Jedzenie było zimne, a sala numer 4 była bardzo głośna.",
    ],
    "cy": [
        "Roedd y nyrsys yn garedig iawn ond roedd yr aros yn hir.",
        "Ffoniwch 111 neu 999 mewn argyfwng.",
        "Rydw i'n 72 oed ac roedd y maes parcio yn llawn.",
        "Roedd y bwyd yn oer ond roedd y staff yn wych.",
    ],
    "ur": [
        "مجھے تین گھنٹے انتظار کرنا پڑا لیکن نرسیں بہت اچھی تھیں۔",
        "ہنگامی صورت میں 999 یا 111 پر کال کریں۔",
        "میری عمر 70 سال ہے اور مترجم نہیں تھا۔",
        "کھانا ٹھنڈا تھا مگر عملہ بہت مہربان تھا۔",
    ],
}

# Hand-written hard cases, each its own template. Placeholders as above.
HARD: list[tuple[str, str]] = [
    ("en", "my daughter [[NAME|grace]] will come with me next time"),
    ("en", "[[NAME|will]] on reception was so helpful"),
    ("en", "thank you to [[NAME|bill]] and [[NAME|hope]] on the night shift"),
    ("en", "my son will call you tomorrow about the letter"),
    ("en", "NHS number: {nhs_fullwidth}"),
    ("en", "nhs no {nhs_zerowidth} thanks"),
    ("en", "my nhs number is {nhs_run} and I was seen on ward 7"),
    ("en", "ring {drama_mobile} any time after 6pm"),
    ("en", "landline {drama_landline}, mobile {drama_mobile}"),
    ("en", "postcode is [[POSTCODE|sw1a1aa]] not [[POSTCODE|SW1A 2AA]]"),
    ("en", "email [[EMAIL|jo dot bloggs at nhs dot net]] please"),
    ("en", "contact [[EMAIL|k.wilson (at) gmail (dot) com]] or [[EMAIL|KWILSON@NHS.NET]]"),
    ("en", "I live at [[ADDRESS|22b baker street]] and the GP is on the corner"),
    ("en", "[[ADDRESS|Flat 4, 17 Oakwood Close]], [[POSTCODE|LS6 2QP]]"),
    ("en", "DR [[NAME|PATEL]] WAS EXCELLENT AND NURSE [[NAME|JONES]] TOO"),
    ("en", "shout out to [[NAME|sarah]] and [[NAME|mohammed]] in x-ray"),
    ("en", "[[NAME|Kayleigh]] the HCA was brilliant with my nan"),
    ("en", "the consultant Mr [[NAME|Okonkwo-Smith]] was rude"),
    ("en", "my wife [[NAME|Dawn]] was born on [[DATE|3rd March 1956]]"),
    ("en", "in May we waited 2 hours; Dr [[NAME|May]] saw us eventually"),
    ("en", "DOB [[DATE|12.03.54]] and I am 70 this year"),
    ("en", "follow [[HANDLE|@jo_bloggs85]] or see [[URL|www.facebook.com/jo.bloggs.85]]"),
    ("en", "I rang 111, then 999, then the ward on [[PHONE|0113 496 0123]]"),
    ("en", "Samaritans (116 123) helped more than anyone"),
    ("en", "thanks [[NAME|frank]] for the frank conversation about my options"),
    ("en", "the lady on reception, [[NAME|Rose]], rose to the occasion"),
    ("en", "Seen by Dr [[NAME|A. Nwosu]]"),
    ("en", "i was looked after by [[NAME|tomasz]] and [[NAME|bronwen]] on [[WARD|bluebell ward]]"),
    ("en", "took my mum [[NAME|eileen]] to [[SITE|castle hill clinic]] for her bloods"),
    ("en", "my partner [[NAME|Wojciech]] had to translate for me"),
    ("en", "nurse [[NAME|siobhan]] stayed past her shift to help us"),
    ("en", "Call me: [[PHONE|+44 (0)7700 900 461]]"),
    ("en", "my ref is 12345 and I'm in bay 3, bed 14"),
    ("en", "waited 3 hours in the car park because there were no spaces"),
    ("en", "she is 4 and was scared; the play specialist [[NAME|Hannah]] was wonderful"),
    ("en", "I saw dr [[NAME|o'brien]] at 9.30 and nurse [[NAME|kelly]] at 11"),
    ("pl", "Pani [[NAME|Kasia]] z recepcji była bardzo pomocna."),
    ("pl", "Dziękuję doktorowi [[NAME|Nowakowi]] za cierpliwość."),
    ("pl", "Mój numer telefonu: [[PHONE|07700 900 357]], proszę dzwonić po 17."),
    ("pl", "Mój syn [[NAME|Kuba]] ma 7 lat i bardzo się bał."),
    ("pl", "Mieszkam na [[ADDRESS|14 Mill Lane]], [[POSTCODE|ng7 2uh]]."),
    ("cy", "Diolch i Nyrs [[NAME|Ffion]] am bopeth."),
    ("cy", "Mae fy rhif ffôn yn [[PHONE|01632 960 555]]."),
    ("cy", "Roedd [[NAME|Dafydd]] yn y dderbynfa yn garedig."),
    ("ur", "ڈاکٹر [[NAME|Ahmed]] بہت اچھے تھے۔"),
    ("ur", "میرا نمبر [[PHONE|07700 900 246]] ہے، شکریہ۔"),
    ("ur", "نرس [[NAME|زینب]] نے بہت مدد کی۔"),
    ("ur", "میرا پوسٹ کوڈ [[POSTCODE|B11 4RJ]] ہے۔"),
]

# ------------------------------------------------------------------- the values

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


class Values:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.fake = {loc: Faker(loc) for loc in ("en_GB", "pl_PL", "en_PK", *UNSEEN_LOCALES)}
        for k, fake in enumerate(self.fake.values()):
            fake.seed_instance(SEED + k)
        random.seed(SEED)  # nhs_number uses the random module
        self.nhs_pool = [n for n in nhs_number.generate(quantity=4000) if n.startswith("999")]

    def case(self, name: str, lower_share: float = 0.3) -> str:
        r = self.rng.random()
        if r < lower_share:
            return name.lower()
        if r < lower_share + 0.04:
            return name.upper()
        return name

    def person(self, lang: str) -> Faker:
        return self.fake[{"pl": "pl_PL", "ur": "en_PK"}.get(lang, "en_GB")]

    def nhs(self) -> str:
        n = self.rng.choice(self.nhs_pool)
        style = self.rng.choice(["334", "334", "334-", "334.", "run", "  ", "4 3 3", "5-5"])
        if style == "334":
            return f"{n[:3]} {n[3:6]} {n[6:]}"
        if style == "334-":
            return f"{n[:3]}-{n[3:6]}-{n[6:]}"
        if style == "334.":
            return f"{n[:3]}.{n[3:6]}.{n[6:]}"
        if style == "run":
            return n
        if style == "  ":
            return f"{n[:3]}  {n[3:6]}  {n[6:]}"
        if style == "4 3 3":
            return f"{n[:4]} {n[4:7]} {n[7:]}"
        return f"{n[:5]}-{n[5:]}"

    def phone(self) -> str:
        fake = self.fake["en_GB"]
        r = self.rng.random()
        if r < 0.35:
            return fake.phone_number()
        if r < 0.6:
            return fake.cellphone_number()
        digits = "07700" + f"{self.rng.randint(900000, 900999)}"
        forms = [
            f"{digits[:5]} {digits[5:]}",
            digits,
            f"{digits[:5]}-{digits[5:8]}-{digits[8:]}",
            f"+44 {digits[1:5]} {digits[5:]}",
            f"+44 (0){digits[1:5]} {digits[5:8]} {digits[8:]}",
            f"({digits[:5]}) {digits[5:]}",
            f"0{self.rng.choice(['113', '114', '115', '116', '117', '118', '121', '131', '141', '151', '161', '191'])} 496 0{self.rng.randint(0, 999):03d}",  # noqa: E501
            f"020 7946 0{self.rng.randint(0, 999):03d}",
            f"01632 960{self.rng.randint(0, 999):03d}",
        ]
        return self.rng.choice(forms)

    def email(self) -> str:
        fake = self.fake["en_GB"]
        address = self.rng.choice([fake.free_email(), fake.email(), fake.company_email()])
        r = self.rng.random()
        if r < 0.65:
            return address if self.rng.random() < 0.9 else address.upper()
        local, domain = address.split("@")
        if r < 0.85:
            return f"{local.replace('.', ' dot ')} at {domain.replace('.', ' dot ')}"
        if r < 0.93:
            return f"{local} (at) {domain.replace('.', ' (dot) ')}"
        return f"{local}[at]{domain}"

    def postcode(self) -> str:
        code = self.fake["en_GB"].postcode()
        r = self.rng.random()
        if r < 0.2:
            return code.lower()
        if r < 0.35:
            return code.replace(" ", "")
        if r < 0.45:
            return code.replace(" ", "").lower()
        return code

    def dob(self) -> str:
        d = self.fake["en_GB"].date_of_birth(minimum_age=1, maximum_age=99)
        month = d.strftime("%B")
        forms = [
            d.strftime("%d/%m/%Y"),
            f"{d.day}/{d.month}/{d.year}",
            d.strftime("%d.%m.%y"),
            f"{d.day} {month} {d.year}",
            f"{d.day}{_ordinal(d.day)} {month} {d.year}",
            f"{month} {d.day}, {d.year}",
            d.strftime("%d-%m-%Y"),
            f"{d.day} {month[:3].lower()} {d.year}",
        ]
        return self.rng.choice(forms)

    def street(self) -> str:
        fake = self.fake["en_GB"]
        first = self.rng.choice(
            [fake.last_name(), fake.first_name(), self.rng.choice(STREET_NAMES)]
        )
        return f"{first} {self.rng.choice(STREET_WORDS)}"

    def address(self) -> str:
        text = f"{self.fake['en_GB'].building_number().lstrip('0') or '1'} {self.street()}"
        return text.lower() if self.rng.random() < 0.25 else text

    def flat(self) -> str:
        return self.rng.choice(["Flat", "flat", "Apartment"]) + f" {self.rng.randint(1, 60)}"

    def url(self) -> str:
        user = self.fake["en_GB"].user_name()
        return self.rng.choice(
            [
                f"https://www.facebook.com/{user}",
                f"www.instagram.com/{user}",
                f"facebook.com/{user}.{self.rng.randint(1, 99)}",
                f"https://twitter.com/{user}",
                f"https://www.tiktok.com/@{user}",
                f"https://{user}.blogspot.com/2024/05/hospital-stay.html",
            ]
        )

    def handle(self) -> str:
        return "@" + self.fake["en_GB"].user_name()


def _ordinal(day: int) -> str:
    if 10 <= day % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


PLACEHOLDER = re.compile(r"\{(\w+)\}|\[\[(\w+)\|([^\]]+)\]\]")


def _value(key: str, lang: str, v: Values) -> list[tuple[str, str | None, str]]:
    """The pieces a placeholder becomes: (text, kind or None, where it came from)."""
    rng = v.rng
    person = v.person(lang)
    src = {"pl": "faker-pl_PL", "ur": "faker-en_PK"}.get(lang, "faker-en_GB")
    if key in ("first", "given"):
        return [(v.case(person.first_name()), "NAME", src)]
    if key == "last":
        return [(v.case(person.last_name(), 0.2), "NAME", src)]
    if key == "full":
        return [(v.case(f"{person.first_name()} {person.last_name()}"), "NAME", src)]
    if key == "amb":
        return [(v.case(rng.choice(ORDINARY_WORD_NAMES), 0.5), "NAME", "ordinary-word-name")]
    if key == "unseen":
        loc = rng.choice(UNSEEN_LOCALES)
        fake = v.fake[loc]
        name = fake.first_name()
        if rng.random() < 0.4:
            name += " " + fake.last_name()
        return [(v.case(name), "NAME", f"unseen-{loc}")]
    if key == "urname":
        name = rng.choice(URDU_SCRIPT_NAMES)
        if rng.random() < 0.3:
            name += " " + rng.choice(URDU_SCRIPT_SURNAMES)
        return [(name, "NAME", "hand-urdu-script")]
    if key in ("staff", "ward", "site"):
        kind = {"staff": "NAME", "ward": "WARD", "site": "SITE"}[key]
        entry = rng.choice(TRUST[f"{key}_names"])
        return [(entry.lower() if rng.random() < 0.3 else entry, kind, "trust-list")]
    if key == "age":
        return [(str(rng.randint(18, 95)), None, "")]
    if key == "num":
        return [(str(rng.randint(2, 52)), None, "")]
    if key == "nhs_fullwidth":
        n = rng.choice(v.nhs_pool)
        return [(f"{n[:3]} {n[3:6]} {n[6:]}".translate(FULLWIDTH), "NHS_NUMBER", "nhs-number")]
    if key == "nhs_zerowidth":
        n = rng.choice(v.nhs_pool)
        return [(f"{n[:3]}\u200b{n[3:6]}\u2060{n[6:]}", "NHS_NUMBER", "nhs-number")]
    if key == "nhs_run":
        return [(rng.choice(v.nhs_pool), "NHS_NUMBER", "nhs-number")]
    if key == "drama_mobile":
        return [(f"07700 900{rng.randint(0, 999):03d}", "PHONE", "ofcom-drama")]
    if key == "drama_landline":
        return [(f"0161 496 0{rng.randint(0, 999):03d}", "PHONE", "ofcom-drama")]
    makers = {
        "nhs": ("NHS_NUMBER", "nhs-number", v.nhs),
        "phone": ("PHONE", "faker-en_GB", v.phone),
        "email": ("EMAIL", "faker-en_GB", v.email),
        "postcode": ("POSTCODE", "faker-en_GB", v.postcode),
        "dob": ("DATE", "faker-en_GB", v.dob),
        "address": ("ADDRESS", "faker-en_GB", v.address),
        "flat": ("ADDRESS", "hand", v.flat),
        "url": ("URL", "faker-en_GB", v.url),
        "handle": ("HANDLE", "faker-en_GB", v.handle),
    }
    kind, source, make = makers[key]
    return [(make(), kind, source)]


def _fill(template: str, lang: str, v: Values) -> tuple[str, list[dict]]:
    text = ""
    spans: list[dict] = []
    last = 0
    for m in PLACEHOLDER.finditer(template):
        text += template[last : m.start()]
        if m.group(1):
            pieces = _value(m.group(1), lang, v)
        else:
            pieces = [(m.group(3), m.group(2), "hand")]
        for piece, kind, source in pieces:
            start = len(text)
            text += piece
            if kind:
                spans.append({"start": start, "end": len(text), "kind": kind, "from": source})
        last = m.end()
    text += template[last:]
    return text, spans


def build(per_template: int = 10) -> tuple[list[dict], list[dict]]:
    rng = random.Random(SEED)
    values = Values(rng)
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for lang, templates in TEMPLATES.items():
        groups[(lang, "generated")] = [(f"{lang}-{k:03d}", t) for k, t in enumerate(templates)]
    for lang, templates in NEGATIVE.items():
        groups[(lang, "negative")] = [(f"{lang}-neg-{k:02d}", t) for k, t in enumerate(templates)]
    hard: dict[str, list[tuple[str, str]]] = {}
    for k, (lang, template) in enumerate(HARD):
        hard.setdefault(lang, []).append((f"{lang}-hard-{k:02d}", template))
    for lang, items in hard.items():
        groups[(lang, "hard")] = items

    split_rng = random.Random(SEED)
    tune: list[dict] = []
    test: list[dict] = []
    for (lang, source), items in sorted(groups.items()):
        order = list(items)
        split_rng.shuffle(order)
        half = (len(order) + split_rng.randint(0, 1)) // 2
        for rank, (template_id, template) in enumerate(order):
            target = tune if rank < half else test
            copies = per_template if source == "generated" else 1
            for copy in range(copies):
                text, spans = _fill(template, lang, values)
                target.append(
                    {
                        "id": f"{template_id}-{copy}",
                        "template": template_id,
                        "lang": lang,
                        "source": source,
                        "text": text,
                        "spans": spans,
                    }
                )
    return tune, test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-template", type=int, default=10, help="examples per template")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    tune, test = build(args.per_template)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("tune.jsonl", tune), ("test.jsonl", test)):
        with open(args.out / name, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    (args.out / "trust.json").write_text(json.dumps(TRUST, indent=2) + "\n", encoding="utf-8")
    spans = sum(len(r["spans"]) for r in tune + test)
    print(f"tune: {len(tune)} examples, test: {len(test)} examples, {spans} identifiers")


if __name__ == "__main__":
    main()

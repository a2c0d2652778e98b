"""The North American Numbering Plan as lookup tables: which area codes exist, their region and US state,
and the candidate time zones of every NPA-NXX prefix, built once per process from `phonenumbers` data.

Numbers inside the engine are integers: a NANP number is its 10 national digits (`NPA NXX XXXX`), so the
area code is `n // 10**7` and the NPA-NXX prefix is `n // 10**4`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import phonenumbers
from phonenumbers.tzdata import TIMEZONE_DATA

US_STATES: dict[str, str] = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS",
    "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA",
    "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT",
    "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM",
    "New York": "NY", "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK",
    "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC",
    "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT",
    "Virginia": "VA", "Washington": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
    "Washington D.C.": "DC", "Washington DC": "DC", "District of Columbia": "DC",
}  # fmt: skip

# Time zones that lie in each state (IANA names as phonenumbers uses them), to intersect with a number's
# candidate zones when the lead's state is known.
STATE_ZONES: dict[str, tuple[str, ...]] = {
    "AL": ("America/Chicago",), "AK": ("America/Anchorage", "America/Adak", "America/Juneau"),
    "AZ": ("America/Phoenix",), "AR": ("America/Chicago",), "CA": ("America/Los_Angeles",),
    "CO": ("America/Denver",), "CT": ("America/New_York",), "DE": ("America/New_York",),
    "DC": ("America/New_York",), "FL": ("America/New_York", "America/Chicago"),
    "GA": ("America/New_York",), "HI": ("Pacific/Honolulu",), "ID": ("America/Boise", "America/Los_Angeles",
    "America/Denver"), "IL": ("America/Chicago",), "IN": ("America/New_York", "America/Chicago"),
    "IA": ("America/Chicago",), "KS": ("America/Chicago", "America/Denver"),
    "KY": ("America/New_York", "America/Chicago"), "LA": ("America/Chicago",), "ME": ("America/New_York",),
    "MD": ("America/New_York",), "MA": ("America/New_York",), "MI": ("America/New_York", "America/Chicago"),
    "MN": ("America/Chicago",), "MS": ("America/Chicago",), "MO": ("America/Chicago",),
    "MT": ("America/Denver",), "NE": ("America/Chicago", "America/Denver"), "NV": ("America/Los_Angeles",),
    "NH": ("America/New_York",), "NJ": ("America/New_York",), "NM": ("America/Denver",),
    "NY": ("America/New_York",), "NC": ("America/New_York",),
    "ND": ("America/Chicago", "America/North_Dakota/Center", "America/Denver"),
    "OH": ("America/New_York",), "OK": ("America/Chicago",), "OR": ("America/Los_Angeles", "America/Boise"),
    "PA": ("America/New_York",), "RI": ("America/New_York",), "SC": ("America/New_York",),
    "SD": ("America/Chicago", "America/Denver"), "TN": ("America/New_York", "America/Chicago"),
    "TX": ("America/Chicago", "America/Denver"), "UT": ("America/Denver",), "VT": ("America/New_York",),
    "VA": ("America/New_York",), "WA": ("America/Los_Angeles",), "WV": ("America/New_York",),
    "WI": ("America/Chicago",), "WY": ("America/Denver",),
}  # fmt: skip

# US state of each geographic area code, derived from phonenumbers' geocoding data by `derive_npa_states`
# (kept as a table because importing that data costs seconds per process; a test checks they agree).
NPA_STATES: dict[int, str] = {
    201: "NJ", 202: "DC", 203: "CT", 205: "AL", 206: "WA", 207: "ME", 208: "ID", 209: "CA", 210: "TX", 212: "NY",
    213: "CA", 214: "TX", 215: "PA", 216: "OH", 217: "IL", 218: "MN", 219: "IN", 220: "OH", 223: "PA", 224: "IL",
    225: "LA", 227: "MD", 228: "MS", 229: "GA", 231: "MI", 234: "OH", 235: "MO", 239: "FL", 240: "MD", 248: "MI",
    251: "AL", 252: "NC", 253: "WA", 254: "TX", 256: "AL", 260: "IN", 262: "WI", 267: "PA", 269: "MI", 270: "KY",
    272: "PA", 274: "WI", 276: "VA", 279: "CA", 281: "TX", 283: "OH", 301: "MD", 302: "DE", 303: "CO", 304: "WV",
    305: "FL", 307: "WY", 308: "NE", 309: "IL", 310: "CA", 312: "IL", 313: "MI", 314: "MO", 315: "NY", 316: "KS",
    317: "IN", 318: "LA", 319: "IA", 320: "MN", 321: "FL", 323: "CA", 324: "FL", 325: "TX", 326: "OH", 327: "AR",
    329: "NY", 330: "OH", 331: "IL", 332: "NY", 334: "AL", 336: "NC", 337: "LA", 339: "MA", 341: "CA", 346: "TX",
    347: "NY", 350: "CA", 351: "MA", 352: "FL", 353: "WI", 360: "WA", 361: "TX", 363: "NY", 364: "KY", 369: "CA",
    380: "OH", 385: "UT", 386: "FL", 401: "RI", 402: "NE", 404: "GA", 405: "OK", 406: "MT", 407: "FL", 408: "CA",
    409: "TX", 410: "MD", 412: "PA", 413: "MA", 414: "WI", 415: "CA", 417: "MO", 419: "OH", 423: "TN", 424: "CA",
    425: "WA", 430: "TX", 432: "TX", 434: "VA", 435: "UT", 440: "OH", 442: "CA", 443: "MD", 445: "PA", 447: "IL",
    448: "FL", 458: "OR", 463: "IN", 464: "IL", 469: "TX", 470: "GA", 472: "NC", 475: "CT", 478: "GA", 479: "AR",
    480: "AZ", 484: "PA", 501: "AR", 502: "KY", 503: "OR", 504: "LA", 505: "NM", 507: "MN", 508: "MA", 509: "WA",
    510: "CA", 512: "TX", 513: "OH", 515: "IA", 516: "NY", 517: "MI", 518: "NY", 520: "AZ", 530: "CA", 531: "NE",
    534: "WI", 539: "OK", 540: "VA", 541: "OR", 551: "NJ", 557: "MO", 559: "CA", 561: "FL", 562: "CA", 563: "IA",
    564: "WA", 567: "OH", 570: "PA", 571: "VA", 572: "OK", 573: "MO", 574: "IN", 575: "NM", 580: "OK", 582: "PA",
    585: "NY", 586: "MI", 601: "MS", 602: "AZ", 603: "NH", 605: "SD", 606: "KY", 607: "NY", 608: "WI", 609: "NJ",
    610: "PA", 612: "MN", 614: "OH", 615: "TN", 616: "MI", 617: "MA", 618: "IL", 619: "CA", 620: "KS", 623: "AZ",
    626: "CA", 628: "CA", 629: "TN", 630: "IL", 631: "NY", 636: "MO", 640: "NJ", 641: "IA", 645: "FL", 646: "NY",
    650: "CA", 651: "MN", 656: "FL", 657: "CA", 659: "AL", 660: "MO", 661: "CA", 662: "MS", 667: "MD", 669: "CA",
    678: "GA", 680: "NY", 681: "WV", 682: "TX", 686: "VA", 689: "FL", 701: "ND", 702: "NV", 703: "VA", 704: "NC",
    706: "GA", 707: "CA", 708: "IL", 712: "IA", 713: "TX", 714: "CA", 715: "WI", 716: "NY", 717: "PA", 718: "NY",
    719: "CO", 720: "CO", 724: "PA", 725: "NV", 726: "TX", 727: "FL", 728: "FL", 730: "IL", 731: "TN", 732: "NJ",
    734: "MI", 737: "TX", 738: "CA", 740: "OH", 743: "NC", 747: "CA", 748: "CO", 754: "FL", 757: "VA", 760: "CA",
    762: "GA", 763: "MN", 765: "IN", 769: "MS", 770: "GA", 771: "DC", 772: "FL", 773: "IL", 774: "MA", 775: "NV",
    779: "IL", 781: "MA", 785: "KS", 786: "FL", 801: "UT", 802: "VT", 803: "SC", 804: "VA", 805: "CA", 806: "TX",
    808: "HI", 810: "MI", 812: "IN", 813: "FL", 814: "PA", 815: "IL", 816: "MO", 817: "TX", 818: "CA", 820: "CA",
    821: "SC", 826: "VA", 828: "NC", 830: "TX", 831: "CA", 832: "TX", 835: "PA", 838: "NY", 839: "SC", 840: "CA",
    843: "SC", 845: "NY", 847: "IL", 848: "NJ", 850: "FL", 854: "SC", 856: "NJ", 857: "MA", 858: "CA", 859: "KY",
    860: "CT", 862: "NJ", 863: "FL", 864: "SC", 865: "TN", 870: "AR", 872: "IL", 878: "PA", 901: "TN", 903: "TX",
    904: "FL", 906: "MI", 907: "AK", 908: "NJ", 909: "CA", 910: "NC", 912: "GA", 913: "KS", 914: "NY", 915: "TX",
    916: "CA", 917: "NY", 918: "OK", 919: "NC", 920: "WI", 925: "CA", 928: "AZ", 929: "NY", 930: "IN", 931: "TN",
    934: "NY", 936: "TX", 937: "OH", 938: "AL", 940: "TX", 941: "FL", 943: "GA", 945: "TX", 947: "MI", 948: "VA",
    949: "CA", 951: "CA", 952: "MN", 954: "FL", 956: "TX", 959: "CT", 970: "CO", 971: "OR", 972: "TX", 973: "NJ",
    975: "MO", 978: "MA", 979: "TX", 980: "NC", 983: "CO", 984: "NC", 985: "LA", 986: "ID", 989: "MI",

}  # fmt: skip

# First three ZIP digits -> state (USPS prefix ranges), to place a lead whose state is not given.
ZIP3_RANGES: tuple[tuple[int, int, str], ...] = (
    (5, 5, "NY"), (10, 27, "MA"), (28, 29, "RI"), (30, 38, "NH"), (39, 49, "ME"), (50, 54, "VT"),
    (55, 55, "MA"), (56, 59, "VT"), (60, 69, "CT"), (70, 89, "NJ"), (100, 149, "NY"), (150, 196, "PA"),
    (197, 199, "DE"), (200, 200, "DC"), (201, 201, "VA"), (202, 205, "DC"), (206, 219, "MD"),
    (220, 246, "VA"), (247, 268, "WV"), (270, 289, "NC"), (290, 299, "SC"), (300, 319, "GA"),
    (320, 339, "FL"), (341, 349, "FL"), (350, 369, "AL"), (370, 385, "TN"), (386, 397, "MS"),
    (398, 399, "GA"), (400, 427, "KY"), (430, 459, "OH"), (460, 479, "IN"), (480, 499, "MI"),
    (500, 528, "IA"), (530, 549, "WI"), (550, 567, "MN"), (569, 569, "DC"), (570, 577, "SD"),
    (580, 588, "ND"), (590, 599, "MT"), (600, 629, "IL"), (630, 658, "MO"), (660, 679, "KS"),
    (680, 693, "NE"), (700, 714, "LA"), (716, 729, "AR"), (730, 732, "OK"), (733, 733, "TX"),
    (734, 749, "OK"), (750, 799, "TX"), (800, 816, "CO"), (820, 831, "WY"), (832, 838, "ID"),
    (840, 847, "UT"), (850, 865, "AZ"), (870, 884, "NM"), (885, 885, "TX"), (889, 898, "NV"),
    (900, 961, "CA"), (967, 968, "HI"), (970, 979, "OR"), (980, 994, "WA"), (995, 999, "AK"),
)  # fmt: skip


def state_of_zip(zip_code: str | None) -> str:
    """Two-letter state of a US ZIP code ('' when unknown or not a ZIP)."""
    digits = (zip_code or "").strip()[:5]
    if len(digits) != 5 or not digits.isdigit():
        return ""
    prefix = int(digits[:3])
    return next((state for low, high, state in ZIP3_RANGES if low <= prefix <= high), "")


US_ZONES: frozenset[str] = frozenset(z for zones in STATE_ZONES.values() for z in zones)


@dataclass(frozen=True)
class NumberingPlan:
    """Per-area-code and per-prefix tables; index arrays by NPA (0..999) or NPA*1000+NXX."""

    valid_npa: np.ndarray  # bool[1000]
    fast_npa: np.ndarray  # bool[1000]: US codes where every NXX 2-9 is valid (the normalizer's fast path)
    fast_npa_codes: frozenset[str]  # the same as strings
    npa_region: tuple[str, ...]  # ISO region per NPA ("" when unassigned)
    npa_state: tuple[str, ...]  # two-letter US state per NPA ("" when not a US geographic code)
    prefix_zone_set: np.ndarray  # int16[1_000_000]: id into zone_sets for each NPA-NXX
    zone_sets: tuple[tuple[str, ...], ...]  # candidate IANA zones; () = unknown

    def zones_of(self, national: int) -> tuple[str, ...]:
        return self.zone_sets[int(self.prefix_zone_set[national // 10_000])]


def _sample_valid(npa: int) -> phonenumbers.PhoneNumber | None:
    for exchange in ("234", "555", "456", "789"):
        number = phonenumbers.PhoneNumber(country_code=1, national_number=int(f"{npa}{exchange}0143"))
        if phonenumbers.is_valid_number(number):
            return number
    return None


def _state_of(description: str) -> str:
    """'Florida' / 'Miami, FL' / 'Washington State' -> two-letter state code ('' when unknown)."""
    name = description.removesuffix(" State")
    if name in US_STATES:
        return US_STATES[name]
    _, _, tail = description.rpartition(", ")
    return tail if tail in STATE_ZONES else ""


def derive_npa_states() -> dict[int, str]:
    """NPA -> state from phonenumbers' geocoding data (slow: loads every country's descriptions)."""
    from phonenumbers.geodata import GEOCODE_DATA

    descriptions: dict[int, str] = {}
    for key in sorted(k for k in GEOCODE_DATA if k.startswith("1") and len(k) >= 4):
        descriptions.setdefault(int(key[1:4]), GEOCODE_DATA[key].get("en", ""))
    states = {}
    for npa, description in descriptions.items():
        sample = _sample_valid(npa)
        if (
            sample is not None
            and phonenumbers.region_code_for_number(sample) == "US"
            and _state_of(description)
        ):
            states[npa] = _state_of(description)
    return states


def _every_exchange_valid(npa: int) -> bool:
    return all(
        phonenumbers.is_valid_number(
            phonenumbers.PhoneNumber(country_code=1, national_number=npa * 10_000_000 + nxx * 10_000 + 1234)
        )
        for nxx in (200, 211, 234, 300, 411, 456, 555, 600, 789, 800, 911, 958, 976, 999)
    )


@lru_cache(maxsize=1)
def numbering_plan() -> NumberingPlan:
    valid = np.zeros(1000, dtype=bool)
    regions = [""] * 1000
    states = [""] * 1000
    for npa in range(200, 1000):
        sample = _sample_valid(npa)
        if sample is None:
            continue
        valid[npa] = True
        regions[npa] = phonenumbers.region_code_for_number(sample) or ""
        if regions[npa] == "US":
            states[npa] = NPA_STATES.get(npa, "")

    zone_ids: dict[tuple[str, ...], int] = {(): 0}
    fallback = tuple(TIMEZONE_DATA.get("1", ()))
    prefix = np.zeros(1_000_000, dtype=np.int16)
    for npa in range(1000):
        if not valid[npa]:
            continue
        zones = fallback
        if regions[npa] == "US":  # non-geographic US codes (toll-free...) span the country, not the NANP
            zones = tuple(z for z in fallback if z in US_ZONES)
        prefix[npa * 1000 : npa * 1000 + 1000] = zone_ids.setdefault(zones, len(zone_ids))
    # Longer prefixes are more specific: apply them after shorter ones.
    for key in sorted((k for k in TIMEZONE_DATA if k.startswith("1") and len(k) > 1), key=len):
        digits = key[1:]
        span = 10 ** (6 - len(digits))
        start = int(digits) * span
        zone_id = zone_ids.setdefault(tuple(TIMEZONE_DATA[key]), len(zone_ids))
        prefix[start : start + span] = zone_id
    zone_sets = tuple(sorted(zone_ids, key=zone_ids.__getitem__))
    fast = np.array(
        [valid[npa] and regions[npa] == "US" and _every_exchange_valid(npa) for npa in range(1000)]
    )
    return NumberingPlan(
        valid_npa=valid,
        fast_npa=fast,
        fast_npa_codes=frozenset(str(npa) for npa in np.flatnonzero(fast).tolist()),
        npa_region=tuple(regions),
        npa_state=tuple(states),
        prefix_zone_set=prefix,
        zone_sets=zone_sets,
    )

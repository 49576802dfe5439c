"""Synthetic data for the segmentation benchmark: profiles, their identities, loyalty balances and a year of
events in the lake's event schema, made once per (seed, sizes) and then reused from the cache.

    .venv/bin/python bench/segments_data.py [--profiles 1000000 --events 20000000 --seed 42]

The folder `$C360_CACHE_DIR/bench/segments-v1-<seed>-<profiles>-<events>/` (or `~/.cache/c360/bench/...`) holds:
- events/part-00000.parquet, ...: rows of exactly `c360.lake.EVENT_SCHEMA`, about 2,000,000 a file (zstd). The
  files split the 365 days ending at AS_OF (2026-10-31 17:00 UTC) into consecutive time slices and each file is
  sorted by timestamp, so `seq` (0..N-1, unique) follows event time over the whole dataset, as in a real log.
- identities.parquet: id_type ('anonymous_id' for every profile, 1-2 each, UUIDs; 'user_id' for ~60 %,
  'u0001234'), id_value, profile_id ('p0001234'). Every event carries its profile's user_id (null without one)
  and one of its anonymous ids, so each event maps to exactly one profile.
- profiles.parquet: profile_id, first_seen_at (its first event; createdAt when it has none) and traits (JSON
  text: email, firstName, lastName, name, gender ~5 % missing, birthday ~20 % missing with ages 16-75, province
  of 12 with HCM and Ha Noi ~half, createdAt, vip ~3 %).
- loyalty.parquet: profile_id, tier (Member/Silver/Gold/Diamond ~70/20/8/2 %), points_active, points_pending
  for ~40 % of profiles.
- meta.json: seed, sizes, AS_OF, the generator's version, row counts per event name and per file.

Activity per profile is lognormal (sigma 1.1; ~12 % of profiles have no events at all, the heaviest a few
thousand). The event mix (share of rows): page 20 %, Product Viewed 40 %, Product Added 7 %, Checkout Started 3 %
(~60 % of them the checkout of a later web/app order), Order Completed 4 % (1-3 products of a 5,000-product
catalogue in 15 categories, typed order_id/amount_minor/currency too), Order Refunded 0.3 % (of an earlier order
of the same file: full ~80 %, partial otherwise), Email Delivered/Opened/Link Clicked 12/4/1 % (a campaign per
week), Ticket Created 0.5 %, Survey Answered 0.3 %, identify 0.5 %, App Installed 0.2 %, Products Searched the
rest. JSON is built column-wise with pyarrow string kernels; no Python loop runs per event or per profile.

Deterministic: each part has its own numpy generator seeded from (seed, part), so the same seed and sizes give
the same rows. Everything is written to a temporary folder that is renamed at the end: a killed run leaves no
half cache behind.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from c360.lake import EVENT_SCHEMA

VERSION = 1  # part of the folder name: bump it whenever the generated data changes
AS_OF = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)
DAYS = 365
ROWS_PER_FILE = 2_000_000

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Progress = Callable[[str], None]

US = 1_000_000
DAY_US = 86_400 * US
END_US = int(AS_OF.timestamp()) * US
START_US = END_US - DAYS * DAY_US

# Separate generator streams, so that changing one table does not reshuffle the others.
_PROFILES, _CATALOGUE, _LOYALTY, _EVENTS = 0, 1, 2, 3

KINDS: tuple[tuple[str, float], ...] = (
    ("page", 20.0),
    ("Product Viewed", 40.0),
    ("Product Added", 7.0),
    ("Checkout Started", 3.0),
    ("Order Completed", 4.0),
    ("Order Refunded", 0.3),
    ("Email Delivered", 12.0),
    ("Email Opened", 4.0),
    ("Email Link Clicked", 1.0),
    ("Ticket Created", 0.5),
    ("Survey Answered", 0.3),
    ("identify", 0.5),
    ("App Installed", 0.2),
    ("Products Searched", 7.2),
)
KIND_NAMES = tuple(name for name, _ in KINDS)
_KIND = {name: i for i, name in enumerate(KIND_NAMES)}

PROVINCES: tuple[tuple[str, float], ...] = (
    ("Hồ Chí Minh", 30.0),
    ("Hà Nội", 21.0),
    ("Đà Nẵng", 7.0),
    ("Hải Phòng", 6.0),
    ("Cần Thơ", 5.0),
    ("Bình Dương", 6.0),
    ("Đồng Nai", 5.0),
    ("Khánh Hòa", 4.0),
    ("Lâm Đồng", 3.5),
    ("Quảng Ninh", 4.0),
    ("Nghệ An", 4.5),
    ("Thừa Thiên Huế", 4.0),
)
FAMILY_NAMES: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38.0),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.0),
    ("Hoàng", 5.0),
    ("Huỳnh", 5.0),
    ("Phan", 4.5),
    ("Vũ", 4.0),
    ("Võ", 4.0),
    ("Đặng", 2.0),
    ("Bùi", 2.0),
    ("Đỗ", 1.5),
    ("Hồ", 1.5),
    ("Ngô", 1.5),
    ("Dương", 1.0),
    ("Lý", 0.5),
)
# No middle name is also a given name: "Nguyễn Ngọc Ngọc" would look like a bug.
MALE_MIDDLE = ("Văn", "Công", "Xuân", "Quang", "Hữu", "Thành")
FEMALE_MIDDLE = ("Thị", "Bích", "Thu", "Thanh", "Kim", "Mỹ")
MALE_GIVEN = (
    "An", "Bảo", "Cường", "Dũng", "Đức", "Hải", "Hùng", "Huy", "Khang", "Khoa",
    "Long", "Minh", "Nam", "Phúc", "Quân", "Sơn", "Thắng", "Trung", "Tuấn", "Việt",
)  # fmt: skip
FEMALE_GIVEN = (
    "Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh",
    "Mai", "My", "Ngân", "Ngọc", "Nhung", "Phương", "Quỳnh", "Thảo", "Trang", "Vy",
)  # fmt: skip
EMAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("gmail.com", 70.0),
    ("yahoo.com", 10.0),
    ("outlook.com", 7.0),
    ("icloud.com", 5.0),
    ("hotmail.com", 5.0),
    ("fpt.vn", 3.0),
)

# (name, typical price in VND, share of the catalogue)
CATEGORIES: tuple[tuple[str, int, float], ...] = (
    ("Áo khoác", 650_000, 8.0),
    ("Áo thun", 199_000, 12.0),
    ("Áo sơ mi", 350_000, 8.0),
    ("Quần", 390_000, 8.0),
    ("Quần jean", 490_000, 6.0),
    ("Váy", 450_000, 7.0),
    ("Đầm", 690_000, 6.0),
    ("Giày", 890_000, 8.0),
    ("Dép", 190_000, 4.0),
    ("Túi xách", 990_000, 6.0),
    ("Son môi", 259_000, 8.0),
    ("Kem dưỡng da", 420_000, 8.0),
    ("Nước hoa", 1_450_000, 4.0),
    ("Phụ kiện", 150_000, 5.0),
    ("Đồng hồ", 1_900_000, 2.0),
)
PRODUCTS = 5_000
PRICE_MIN, PRICE_MAX = 49_000, 2_500_000

PAGES: tuple[tuple[str, str, float], ...] = (
    ("Home", "/", 30.0),
    ("Category", "/c/", 25.0),
    ("Product", "/p/", 30.0),
    ("Cart", "/cart", 5.0),
    ("Search", "/search", 5.0),
    ("Account", "/account", 5.0),
)
SEARCHES = (
    "áo khoác nữ", "giày thể thao", "son môi đỏ", "túi xách da", "váy công sở", "quần jean nam", "nước hoa",
    "kem chống nắng", "đồng hồ nam", "áo thun", "sneaker", "dress", "áo sơ mi trắng", "dép sandal", "ví nữ",
)  # fmt: skip
PAYMENTS = ("cod", "card", "momo", "zalopay", "bank_transfer")
ONLINE_PAYMENT_P = (0.40, 0.15, 0.20, 0.10, 0.15)
POS_PAYMENT_P = (0.0, 0.50, 0.25, 0.10, 0.15)  # nobody pays cash-on-delivery at a till
TICKET_CHANNELS = (("email", 0.35), ("phone", 0.25), ("chat", 0.40))
TICKET_CATEGORIES = (("delivery", 0.40), ("refund", 0.20), ("product", 0.25), ("account", 0.15))
NPS_P = (0.03, 0.02, 0.02, 0.03, 0.03, 0.05, 0.07, 0.12, 0.18, 0.20, 0.25)
# Reviews by sentiment, four each: detractors (NPS 0-6), passives (7-8), promoters (9-10).
REVIEWS = (
    "Giao hàng chậm", "Bad service", "Sản phẩm không giống hình", "Đóng gói cẩu thả",
    "Tạm được", "OK, nothing special", "Sản phẩm ổn", "Giá hơi cao",
    "Tuyệt vời, rất hài lòng", "Great quality", "Sẽ mua lại", "Fast delivery, thank you",
)  # fmt: skip
APP_VERSIONS = ("4.12.0", "4.13.1", "4.14.0", "5.0.2")
TIERS: tuple[tuple[str, float, float], ...] = (  # (tier, share, typical active points)
    ("Member", 0.70, 400.0),
    ("Silver", 0.20, 2_500.0),
    ("Gold", 0.08, 9_000.0),
    ("Diamond", 0.02, 35_000.0),
)


@dataclass(frozen=True)
class SegmentsBenchData:
    folder: Path
    event_files: list[Path]
    identities: Path
    profiles: Path
    loyalty: Path
    as_of: datetime
    profiles_count: int
    events_count: int


def default_cache_dir() -> Path:
    configured = os.environ.get("C360_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "c360"


def generate(
    profiles: int = 1_000_000,
    events: int = 20_000_000,
    seed: int = 42,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
) -> SegmentsBenchData:
    """The benchmark's data for (seed, profiles, events), made now unless the cache already holds it.

    ``cache_dir`` is c360's cache root (default ``$C360_CACHE_DIR`` or ``~/.cache/c360``); the folder goes into
    its ``bench/`` subfolder.
    """
    if profiles < 1 or events < 0:
        raise ValueError("need at least one profile and a non-negative number of events")
    say = progress or (lambda _message: None)
    root = (cache_dir or default_cache_dir()) / "bench"
    root.mkdir(parents=True, exist_ok=True)
    name = f"segments-v{VERSION}-{seed}-{profiles}-{events}"
    folder = root / name
    if not (folder / "meta.json").is_file():
        _remove_stale_scratch(root, name)
        scratch = root / f".{name}.tmp-{os.getpid()}"
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            _write_all(scratch, profiles, events, seed, say)
            try:
                scratch.rename(folder)
            except OSError:
                # Another run finished the same folder first: its data is the same, keep it.
                if not (folder / "meta.json").is_file():
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    else:
        say(f"reusing {folder}")
    return SegmentsBenchData(
        folder=folder,
        event_files=sorted((folder / "events").glob("part-*.parquet")),
        identities=folder / "identities.parquet",
        profiles=folder / "profiles.parquet",
        loyalty=folder / "loyalty.parquet",
        as_of=AS_OF,
        profiles_count=profiles,
        events_count=events,
    )


def _remove_stale_scratch(root: Path, name: str) -> None:
    """Temporary folders of killed runs (their process is gone) would otherwise stay forever."""
    for path in root.glob(f".{name}.tmp-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass  # alive, someone else's


# -- the people -----------------------------------------------------------------------------------------------


@dataclass
class _World:
    """What every event part needs to know about the profiles and the catalogue."""

    count: int
    profile_ids: pa.Array
    activity_cdf: F64  # cumulative activity weights: a profile is drawn by a uniform number's position in it
    last_active: int  # the last profile with a positive weight (guards against the cdf's rounding)
    anon_start: I64  # a profile's anonymous ids are anon_ids[anon_start[p] : anon_start[p] + anon_count[p]]
    anon_count: I64
    anon_ids: pa.Array
    user_ids: pa.Array  # per profile, null for those without one
    emails: pa.Array
    product_ids: pa.Array
    product_fragments: pa.Array  # '"product_id":"100123","category":"Quần","price":390000' per product
    product_category: I64
    product_price: I64
    product_cdf: F64
    category_slugs: pa.Array
    first_seen: I64 = field(init=False)

    def __post_init__(self) -> None:
        self.first_seen = np.full(self.count, np.iinfo(np.int64).max, dtype=np.int64)

    def pick_profiles(self, rng: np.random.Generator, k: int) -> I64:
        drawn = np.searchsorted(self.activity_cdf, rng.random(k) * self.activity_cdf[-1], side="right")
        picked: I64 = np.minimum(drawn, self.last_active).astype(np.int64)
        return picked

    def pick_products(self, rng: np.random.Generator, shape: int | tuple[int, int]) -> I64:
        drawn = np.searchsorted(self.product_cdf, rng.random(shape) * self.product_cdf[-1], side="right")
        picked: I64 = np.minimum(drawn, PRODUCTS - 1).astype(np.int64)
        return picked


def _ascii(text: str) -> str:
    """Vietnamese letters without their marks, for email addresses and URL slugs."""
    decomposed = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _weights(items: Sequence[tuple[Any, ...]], at: int = 1) -> F64:
    w: F64 = np.array([item[at] for item in items], dtype=np.float64)
    shares: F64 = w / w.sum()
    return shares


def _strings(values: Sequence[str | None]) -> pa.Array:
    return pa.array(list(values), type=pa.string())


def _text(numbers: npt.NDArray[Any]) -> pa.Array:
    return pc.cast(pa.array(numbers), pa.string())


def _join(*parts: Any) -> pa.Array:
    """Concatenates strings row by row; a null part is left out (optional JSON members are null when absent)."""
    return pc.binary_join_element_wise(*parts, "", null_handling="skip")


def _numbered(prefix: str, numbers: npt.NDArray[Any], width: int) -> pa.Array:
    return _join(prefix, pc.utf8_lpad(_text(numbers), width=width, padding="0"))


def _null_where(mask: npt.NDArray[np.bool_], values: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask), pa.scalar(None, values.type), values)


def _uuids(rng: np.random.Generator, k: int) -> pa.Array:
    """k random version-4 UUIDs as text, built as one byte matrix instead of k Python strings."""
    raw = rng.integers(0, 256, size=(k, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    nibbles = np.empty((k, 32), dtype=np.uint8)
    nibbles[:, 0::2] = raw >> 4
    nibbles[:, 1::2] = raw & 0x0F
    hexed = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles]
    text = np.full((k, 36), ord("-"), dtype=np.uint8)
    for dst, src, width in ((0, 0, 8), (9, 8, 4), (14, 12, 4), (19, 16, 4), (24, 20, 12)):
        text[:, dst : dst + width] = hexed[:, src : src + width]
    offsets = np.arange(0, 36 * (k + 1), 36, dtype=np.int32)
    ids = pa.StringArray.from_buffers(k, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(text)))
    if pc.count_distinct(ids).as_py() != k:  # 122 random bits: a clash would be a bug, not bad luck
        raise RuntimeError("anonymous ids are not unique")
    return ids


def _make_people(n: int, seed: int) -> tuple[_World, dict[str, Any]]:
    """The world the events need, and the profile attributes only profiles.parquet needs."""
    rng = np.random.default_rng([seed, _PROFILES])
    profile_ids = _numbered("p", np.arange(n), 7)

    weights = rng.lognormal(0.0, 1.1, n)
    weights[rng.random(n) < 0.12] = 0.0  # known from a CRM or a till only: no tracked events
    if not weights.any():
        weights[0] = 1.0
    cdf = np.cumsum(weights)
    last_active = int(np.flatnonzero(weights)[-1])

    anon_count = 1 + (rng.random(n) < 0.35).astype(np.int64)
    anon_start = np.concatenate(([0], np.cumsum(anon_count)[:-1])).astype(np.int64)
    anon_ids = _uuids(rng, int(anon_count.sum()))
    has_user = rng.random(n) < 0.6
    user_ids = _null_where(~has_user, _numbered("u", rng.permutation(n), 7))

    female = rng.random(n) < 0.58  # a fashion and beauty shop
    family = rng.choice(len(FAMILY_NAMES), n, p=_weights(FAMILY_NAMES))
    middle = rng.integers(0, len(MALE_MIDDLE), n) + np.where(female, len(MALE_MIDDLE), 0)
    given = rng.integers(0, len(MALE_GIVEN), n) + np.where(female, len(MALE_GIVEN), 0)
    family_names = _strings([f for f, _ in FAMILY_NAMES]).take(family)
    given_names = _strings(MALE_GIVEN + FEMALE_GIVEN).take(given)
    middle_names = _strings(MALE_MIDDLE + FEMALE_MIDDLE).take(middle)
    domain = rng.choice(len(EMAIL_DOMAINS), n, p=_weights(EMAIL_DOMAINS))
    emails = _join(
        _strings([_ascii(g).lower() for g in MALE_GIVEN + FEMALE_GIVEN]).take(given),
        ".",
        _strings([_ascii(f).lower() for f, _ in FAMILY_NAMES]).take(family),
        _text(np.arange(n)),  # the profile's number keeps emails unique
        "@",
        _strings([d for d, _ in EMAIL_DOMAINS]).take(domain),
    )

    gender = np.where(female, 1, 0)
    gender[rng.random(n) < 0.05] = 2
    age_days = np.clip(rng.normal(33.0, 11.0, n), 16.0, 75.99) * 365.25
    birth = (AS_OF.date() - date(1970, 1, 1)).days - age_days.astype(np.int64)
    birthday = pc.strftime(pa.array(birth.astype(np.int32)).cast(pa.date32()), format="%Y-%m-%d")
    birthday = _null_where(rng.random(n) < 0.20, birthday)
    province = rng.choice(len(PROVINCES), n, p=_weights(PROVINCES))
    created = END_US - rng.integers(0, 3 * 365 * DAY_US, n)  # accounts up to three years old
    vip = rng.random(n) < 0.03

    catalogue = np.random.default_rng([seed, _CATALOGUE])
    category = catalogue.choice(len(CATEGORIES), PRODUCTS, p=_weights(CATEGORIES, at=2))
    typical = np.array([price for _, price, _ in CATEGORIES], dtype=np.float64)[category]
    rounded = np.round(typical * catalogue.lognormal(0.0, 0.45, PRODUCTS) / 1000) * 1000
    price: I64 = np.clip(rounded, PRICE_MIN, PRICE_MAX).astype(np.int64)
    popularity = 1.0 / (catalogue.permutation(PRODUCTS) + 20.0)  # a long tail of rarely seen products
    product_numbers = [str(100_000 + i) for i in range(PRODUCTS)]
    category_json = [orjson.dumps(c).decode() for c, _, _ in CATEGORIES]
    fragments = [
        f'"product_id":"{number}","category":{category_json[c]},"price":{p}'
        for number, c, p in zip(product_numbers, category.tolist(), price.tolist(), strict=True)
    ]
    world = _World(
        count=n,
        profile_ids=profile_ids,
        activity_cdf=cdf,
        last_active=last_active,
        anon_start=anon_start,
        anon_count=anon_count,
        anon_ids=anon_ids,
        user_ids=user_ids,
        emails=emails,
        product_ids=_strings(product_numbers),
        product_fragments=_strings(fragments),
        product_category=category.astype(np.int64),
        product_price=price,
        product_cdf=np.cumsum(popularity),
        category_slugs=_strings([_ascii(c).lower().replace(" ", "-") for c, _, _ in CATEGORIES]),
    )
    attributes = {
        "family": family_names,
        "middle": middle_names,
        "given": given_names,
        "gender": gender,
        "birthday": birthday,
        "province": province,
        "created": created,
        "vip": vip,
        "has_user": has_user,
    }
    return world, attributes


def _profiles_table(world: _World, a: dict[str, Any]) -> pa.Table:
    never_seen = world.first_seen == np.iinfo(np.int64).max
    first_seen = np.where(never_seen, a["created"], world.first_seen)
    created_at = np.minimum(a["created"], first_seen) // US
    created_text = pc.strftime(pa.array(created_at).cast(pa.timestamp("s", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")
    traits = _join(
        '{"email":"',
        world.emails,
        '","firstName":"',
        a["given"],
        '","lastName":"',
        a["family"],
        '","name":"',
        pc.binary_join_element_wise(a["family"], a["middle"], a["given"], " "),
        '"',
        _strings([',"gender":"male"', ',"gender":"female"', None]).take(a["gender"]),
        pc.binary_join_element_wise(',"birthday":"', a["birthday"], '"', ""),  # null (left out) without a birthday
        ',"province":"',
        _strings([p for p, _ in PROVINCES]).take(a["province"]),
        '","createdAt":"',
        created_text,
        '","vip":',
        _strings(["false", "true"]).take(a["vip"].astype(np.int8)),
        "}",
    )
    return pa.table(
        {
            "profile_id": world.profile_ids,
            "first_seen_at": pa.array(first_seen).cast(pa.timestamp("us", tz="UTC")),
            "traits": traits,
        }
    )


def _identities_table(world: _World, has_user: npt.NDArray[np.bool_]) -> pa.Table:
    anon_owner = np.repeat(np.arange(world.count), world.anon_count)
    users = np.flatnonzero(has_user)
    anon_count, user_count = len(anon_owner), len(users)
    return pa.table(
        {
            "id_type": _strings(["anonymous_id", "user_id"]).take(
                np.concatenate([np.zeros(anon_count, np.int8), np.ones(user_count, np.int8)])
            ),
            "id_value": pa.concat_arrays([world.anon_ids, world.user_ids.take(users)]),
            "profile_id": world.profile_ids.take(np.concatenate([anon_owner, users])),
        }
    )


def _loyalty_table(world: _World, seed: int) -> pa.Table:
    rng = np.random.default_rng([seed, _LOYALTY])
    members = np.flatnonzero(rng.random(world.count) < 0.40)
    k = len(members)
    tier = rng.choice(len(TIERS), k, p=_weights(TIERS))
    typical = np.array([points for _, _, points in TIERS])[tier]
    active = np.round(typical * rng.lognormal(0.0, 0.8, k)).astype(np.int64)
    active[rng.random(k) < 0.10] = 0  # spent everything
    pending = np.round(typical * 0.15 * rng.lognormal(0.0, 1.0, k)).astype(np.int64)
    pending[rng.random(k) < 0.60] = 0  # nothing bought in the pending window
    return pa.table(
        {
            "profile_id": world.profile_ids.take(members),
            "tier": _strings([t for t, _, _ in TIERS]).take(tier),
            "points_active": pa.array(active),
            "points_pending": pa.array(pending),
        }
    )


# -- the events -----------------------------------------------------------------------------------------------


@dataclass
class _Rows:
    """The rows of one event kind in one part, before they are merged and sorted by time."""

    kind: int
    profile: I64
    ts: I64
    source: pa.Array
    name: pa.Array | None = None
    properties: pa.Array | None = None
    traits: pa.Array | None = None
    order_id: pa.Array | None = None
    amount: I64 | None = None


class _Part:
    """One events file: its time slice [t0, t1), its seq range and its own generator."""

    def __init__(self, world: _World, seed: int, index: int, first_seq: int, t0: int, t1: int) -> None:
        self.world = world
        self.rng = np.random.default_rng([seed, _EVENTS, index])
        self.first_seq = first_seq
        self.t0, self.t1 = t0, t1
        self.next_number = first_seq  # order numbers come from the part's seq range: unique over all parts

    def numbers(self, k: int) -> npt.NDArray[np.int64]:
        start = self.next_number
        self.next_number += k
        return np.arange(start, start + k, dtype=np.int64)

    def times(self, k: int) -> I64:
        return self.rng.integers(self.t0, self.t1, k, dtype=np.int64)

    def choose(self, values: Sequence[str], p: Sequence[float] | F64, k: int) -> pa.Array:
        return _strings(values).take(self.rng.choice(len(values), k, p=np.asarray(p) / np.sum(p)))

    def web_or_app(self, k: int, web: float = 0.55) -> pa.Array:
        return self.choose(("web", "app"), (web, 1.0 - web), k)

    def constant(self, value: str, k: int) -> pa.Array:
        return _strings([value]).take(np.zeros(k, dtype=np.int8))

    def rows(self, counts: I64) -> list[_Rows]:
        c = {name: int(counts[i]) for i, name in enumerate(KIND_NAMES)}
        orders = self.orders(c["Order Completed"])
        # Refunds and checkouts follow orders of this part; with too few orders the spare rows become searches.
        refunds = self.refunds(orders, c["Order Refunded"])
        spare = c["Order Refunded"] - len(refunds.ts)
        return [
            self.pages(c["page"]),
            self.viewed(c["Product Viewed"], added=False),
            self.viewed(c["Product Added"], added=True),
            self.checkouts(orders, c["Checkout Started"]),
            orders,
            refunds,
            self.emails(_KIND["Email Delivered"], c["Email Delivered"]),
            self.emails(_KIND["Email Opened"], c["Email Opened"]),
            self.emails(_KIND["Email Link Clicked"], c["Email Link Clicked"]),
            self.tickets(c["Ticket Created"]),
            self.surveys(c["Survey Answered"]),
            self.identifies(c["identify"]),
            self.installs(c["App Installed"]),
            self.searches(c["Products Searched"] + spare),
        ]

    def pages(self, k: int) -> _Rows:
        rng, w = self.rng, self.world
        page = rng.choice(len(PAGES), k, p=_weights(PAGES, at=2))
        category = rng.integers(0, len(CATEGORIES), k)
        product = w.pick_products(rng, k)
        suffix = pc.if_else(
            pa.array(page == 1),
            w.category_slugs.take(category),
            _null_where(page != 2, w.product_ids.take(product)),
        )
        path = _join(_strings([path for _, path, _ in PAGES]).take(page), suffix)
        return _Rows(
            kind=_KIND["page"],
            profile=w.pick_profiles(rng, k),
            ts=self.times(k),
            source=self.constant("web", k),
            name=_strings([name for name, _, _ in PAGES]).take(page),
            properties=_join('{"path":"', path, '"}'),
        )

    def viewed(self, k: int, *, added: bool) -> _Rows:
        rng, w = self.rng, self.world
        product = w.pick_products(rng, k)
        tail: list[Any] = [',"currency":"VND"}']
        if added:
            quantity = rng.choice(3, k, p=(0.85, 0.11, 0.04)) + 1
            tail = [',"currency":"VND","quantity":', _text(quantity), "}"]
        return _Rows(
            kind=_KIND["Product Added" if added else "Product Viewed"],
            profile=w.pick_profiles(rng, k),
            ts=self.times(k),
            source=self.web_or_app(k),
            properties=_join("{", w.product_fragments.take(product), *tail),
        )

    def orders(self, k: int) -> _Rows:
        rng, w = self.rng, self.world
        channel = rng.choice(3, k, p=(0.5, 0.3, 0.2))  # web, app, pos
        items = rng.choice(3, k, p=(0.60, 0.28, 0.12)) + 1
        product = w.pick_products(rng, (k, 3))
        quantity = rng.choice(3, (k, 3), p=(0.80, 0.15, 0.05)) + 1
        used = np.arange(3) < items[:, None]
        total = (w.product_price[product] * quantity * used).sum(axis=1)
        lines = [
            _null_where(
                ~used[:, j],
                _join("{", w.product_fragments.take(product[:, j]), ',"quantity":', _text(quantity[:, j]), "}"),
            )
            for j in range(3)
        ]
        payment = np.where(
            channel == 2,
            rng.choice(len(PAYMENTS), k, p=POS_PAYMENT_P),
            rng.choice(len(PAYMENTS), k, p=ONLINE_PAYMENT_P),
        )
        order_id = _numbered("O", self.numbers(k), 9)
        total_text = _text(total)
        properties = _join(
            '{"order_id":"',
            order_id,
            '","total":',
            total_text,
            ',"revenue":',
            total_text,
            ',"currency":"VND","payment_method":"',
            _strings(PAYMENTS).take(payment),
            '","products":[',
            pc.binary_join_element_wise(*lines, ",", null_handling="skip"),
            "]}",
        )
        return _Rows(
            kind=_KIND["Order Completed"],
            profile=w.pick_profiles(rng, k),
            ts=self.times(k),
            source=_strings(("web", "app", "pos")).take(channel),
            properties=properties,
            order_id=order_id,
            amount=total.astype(np.int64),
        )

    def refunds(self, orders: _Rows, k: int) -> _Rows:
        assert orders.amount is not None
        assert orders.order_id is not None
        rng = self.rng
        k = min(k, len(orders.ts))
        of = rng.choice(len(orders.ts), k, replace=False)
        placed = orders.ts[of]
        # Within 14 days of the order, and inside this part's time slice.
        ts = placed + (rng.random(k) * np.minimum(14 * DAY_US, self.t1 - placed)).astype(np.int64)
        full = orders.amount[of]
        partial = np.maximum(np.round(full * rng.uniform(0.2, 0.8, k) / 1000) * 1000, 1000).astype(np.int64)
        amount = np.where(rng.random(k) < 0.8, full, np.minimum(partial, full))
        order_id = orders.order_id.take(of)
        return _Rows(
            kind=_KIND["Order Refunded"],
            profile=orders.profile[of],
            ts=ts,
            source=orders.source.take(of),
            properties=_join('{"order_id":"', order_id, '","total":', _text(amount), ',"currency":"VND"}'),
            order_id=order_id,
            amount=amount,
        )

    def checkouts(self, orders: _Rows, k: int) -> _Rows:
        assert orders.amount is not None
        assert orders.order_id is not None
        rng, w = self.rng, self.world
        online = np.flatnonzero(pc.not_equal(orders.source, "pos").to_numpy(zero_copy_only=False))
        converted = rng.choice(online, min(round(k * 0.6), len(online)), replace=False)
        placed = orders.ts[converted]
        before = placed - (rng.random(len(converted)) * np.minimum(30 * 60 * US, placed - self.t0)).astype(np.int64)
        abandoned = k - len(converted)
        product = w.pick_products(rng, abandoned)
        quantity = rng.choice(3, abandoned, p=(0.80, 0.15, 0.05)) + 1
        order_id = pa.concat_arrays([orders.order_id.take(converted), _numbered("O", self.numbers(abandoned), 9)])
        value = np.concatenate([orders.amount[converted], w.product_price[product] * quantity])
        return _Rows(
            kind=_KIND["Checkout Started"],
            profile=np.concatenate([orders.profile[converted], w.pick_profiles(rng, abandoned)]),
            ts=np.concatenate([before, self.times(abandoned)]),
            source=pa.concat_arrays([orders.source.take(converted), self.web_or_app(abandoned)]),
            properties=_join('{"order_id":"', order_id, '","value":', _text(value), ',"currency":"VND"}'),
        )

    def emails(self, kind: int, k: int) -> _Rows:
        rng, w = self.rng, self.world
        ts = self.times(k)
        week = (ts - START_US) // (7 * DAY_US)  # one campaign a week, in up to three variants
        campaign = _join(
            _numbered("cmp-", week, 3), _strings(("a", "b", "c")).take(rng.choice(3, k, p=(0.5, 0.3, 0.2)))
        )
        return _Rows(
            kind=kind,
            profile=w.pick_profiles(rng, k),
            ts=ts,
            source=self.constant("email", k),
            properties=_join('{"campaign_id":"', campaign, '"}'),
        )

    def tickets(self, k: int) -> _Rows:
        channel = self.choose([c for c, _ in TICKET_CHANNELS], [p for _, p in TICKET_CHANNELS], k)
        category = self.choose([c for c, _ in TICKET_CATEGORIES], [p for _, p in TICKET_CATEGORIES], k)
        return _Rows(
            kind=_KIND["Ticket Created"],
            profile=self.world.pick_profiles(self.rng, k),
            ts=self.times(k),
            source=self.constant("support", k),
            properties=_join('{"channel":"', channel, '","category":"', category, '"}'),
        )

    def surveys(self, k: int) -> _Rows:
        rng = self.rng
        nps = rng.choice(11, k, p=NPS_P)
        rating = np.clip(np.round(1 + nps * 0.4 + rng.normal(0, 0.5, k)), 1, 5).astype(np.int64)
        sentiment = np.where(nps >= 9, 2, np.where(nps >= 7, 1, 0))
        review = _strings([orjson.dumps(r).decode() for r in REVIEWS]).take(sentiment * 4 + rng.integers(0, 4, k))
        return _Rows(
            kind=_KIND["Survey Answered"],
            profile=self.world.pick_profiles(rng, k),
            ts=self.times(k),
            source=self.constant("survey", k),
            properties=_join('{"nps":', _text(nps), ',"rating":', _text(rating), ',"review":', review, "}"),
        )

    def identifies(self, k: int) -> _Rows:
        profile = self.world.pick_profiles(self.rng, k)
        return _Rows(
            kind=_KIND["identify"],
            profile=profile,
            ts=self.times(k),
            source=self.web_or_app(k),
            traits=_join('{"email":"', self.world.emails.take(profile), '"}'),
        )

    def installs(self, k: int) -> _Rows:
        platform = self.choose(("android", "ios"), (0.6, 0.4), k)
        version = self.choose(APP_VERSIONS, (0.1, 0.2, 0.3, 0.4), k)
        return _Rows(
            kind=_KIND["App Installed"],
            profile=self.world.pick_profiles(self.rng, k),
            ts=self.times(k),
            source=self.constant("app", k),
            properties=_join('{"platform":"', platform, '","version":"', version, '"}'),
        )

    def searches(self, k: int) -> _Rows:
        query = self.choose([orjson.dumps(q).decode() for q in SEARCHES], np.ones(len(SEARCHES)), k)
        return _Rows(
            kind=_KIND["Products Searched"],
            profile=self.world.pick_profiles(self.rng, k),
            ts=self.times(k),
            source=self.web_or_app(k),
            properties=_join('{"query":', query, "}"),
        )

    def table(self, n: int) -> tuple[pa.Table, I64]:
        """The part's n rows in EVENT_SCHEMA, sorted by time, and the row count of each kind."""
        rng, w = self.rng, self.world
        counts = rng.multinomial(n, _weights(KINDS)).astype(np.int64)
        pieces = self.rows(counts)
        for piece in pieces:
            for text in (piece.properties, piece.traits):
                if text is not None and len(text):
                    for value in text.slice(0, 20).to_pylist():
                        orjson.loads(value)  # the JSON is assembled from fragments: prove a sample parses

        ts = np.concatenate([p.ts for p in pieces])
        order = np.argsort(ts, kind="stable")
        ts = ts[order]
        profile = np.concatenate([p.profile for p in pieces])[order]
        kind = np.concatenate([np.full(len(p.ts), p.kind, dtype=np.int8) for p in pieces])[order]
        np.minimum.at(w.first_seen, profile, ts)

        def merged(get: Callable[[_Rows], pa.Array | None], dtype: pa.DataType) -> pa.Array:
            arrays = [a if (a := get(p)) is not None else pa.nulls(len(p.ts), dtype) for p in pieces]
            return pa.concat_arrays(arrays).take(order)

        track = [name not in ("page", "identify") for name in KIND_NAMES]
        anon_pick = rng.integers(0, 2, n) % w.anon_count[profile]
        seq = self.first_seq + np.arange(n, dtype=np.int64)
        columns: dict[str, Any] = {
            "seq": pa.array(seq),
            "message_id": _numbered("m", seq, 9),
            "source": merged(lambda p: p.source, pa.string()),
            "type": _strings(["track" if t else name for name, t in zip(KIND_NAMES, track, strict=True)]).take(kind),
            "event": _strings([name if t else None for name, t in zip(KIND_NAMES, track, strict=True)]).take(kind),
            "name": merged(lambda p: p.name, pa.string()),
            "user_id": w.user_ids.take(profile),
            "anonymous_id": w.anon_ids.take(w.anon_start[profile] + anon_pick),
            "group_id": pa.nulls(n, pa.string()),
            "previous_id": pa.nulls(n, pa.string()),
            "timestamp": pa.array(ts).cast(pa.timestamp("us", tz="UTC")),
            "received_at": pa.array(ts + rng.integers(0, 5 * US + 1, n)).cast(pa.timestamp("us", tz="UTC")),
            "order_id": merged(lambda p: p.order_id, pa.string()),
            "amount_minor": merged(lambda p: None if p.amount is None else pa.array(p.amount), pa.int64()),
            "currency": _strings([None, "VND"]).take(
                np.isin(kind, (_KIND["Order Completed"], _KIND["Order Refunded"])).astype(np.int8)
            ),
            "properties": merged(lambda p: p.properties, pa.string()),
            "traits": merged(lambda p: p.traits, pa.string()),
            "context": self.constant("{}", n),
        }
        actual = np.bincount(kind, minlength=len(KINDS)).astype(np.int64)
        return pa.Table.from_pydict(columns, schema=EVENT_SCHEMA), actual


# -- the folder -----------------------------------------------------------------------------------------------


def _write_all(folder: Path, profiles: int, events: int, seed: int, say: Progress) -> None:
    started = time.perf_counter()
    (folder / "events").mkdir(parents=True)
    world, attributes = _make_people(profiles, seed)
    pq.write_table(_identities_table(world, attributes["has_user"]), folder / "identities.parquet", compression="zstd")
    loyalty = _loyalty_table(world, seed)
    pq.write_table(loyalty, folder / "loyalty.parquet", compression="zstd")
    say(f"profiles, identities and loyalty made ({time.perf_counter() - started:.1f} s)")

    parts = -(-events // ROWS_PER_FILE)
    # Equal parts over equal time slices: the files together are one time-ordered log.
    bounds = [events * i // max(parts, 1) for i in range(parts + 1)]
    counts = np.zeros(len(KINDS), dtype=np.int64)
    files: dict[str, int] = {}
    for i in range(parts):
        tick = time.perf_counter()
        n = bounds[i + 1] - bounds[i]
        t0 = START_US + DAYS * DAY_US * bounds[i] // max(events, 1)
        t1 = START_US + DAYS * DAY_US * bounds[i + 1] // max(events, 1) if i < parts - 1 else END_US
        table, kinds = _Part(world, seed, i, bounds[i], t0, max(t1, t0 + 1)).table(n)
        path = folder / "events" / f"part-{i:05d}.parquet"
        pq.write_table(table, path, compression="zstd")
        counts += kinds
        files[path.name] = n
        del table
        say(f"events part {i + 1}/{parts}: {n:,} rows ({time.perf_counter() - tick:.1f} s)")

    profiles_table = _profiles_table(world, attributes)
    for value in profiles_table["traits"].slice(0, 100).to_pylist():
        orjson.loads(value)
    pq.write_table(profiles_table, folder / "profiles.parquet", compression="zstd")
    meta = {
        "generator": "bench/segments_data.py",
        "version": VERSION,
        "seed": seed,
        "profiles": profiles,
        "events": events,
        "as_of": AS_OF.isoformat().replace("+00:00", "Z"),
        "days": DAYS,
        "identities": {
            "anonymous_id": len(world.anon_ids),
            "user_id": int(attributes["has_user"].sum()),
        },
        "loyalty_members": loyalty.num_rows,
        "profiles_without_events": int((world.first_seen == np.iinfo(np.int64).max).sum()),
        "events_by_name": {name: int(c) for name, c in zip(KIND_NAMES, counts.tolist(), strict=True)},
        "event_files": files,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (folder / "meta.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    say(f"profiles written; all done in {time.perf_counter() - started:.1f} s")


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    started = time.perf_counter()
    data = generate(args.profiles, args.events, args.seed, progress=lambda m: print(m, flush=True))
    wall = time.perf_counter() - started
    meta = orjson.loads((data.folder / "meta.json").read_bytes())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(data.folder)
    print(
        f"{wall:.1f} s, peak RSS {peak_mib:,.0f} MiB, {_folder_bytes(data.folder) / 2**20:,.0f} MiB on disk; "
        f"{data.profiles_count:,} profiles, {data.events_count:,} events in {len(data.event_files)} files"
    )
    print(f"identities {meta['identities']}, loyalty members {meta['loyalty_members']:,}")
    for name, count in meta["events_by_name"].items():
        print(f"  {name:<20} {count:>12,}  {count / max(data.events_count, 1):6.2%}")


if __name__ == "__main__":
    main()

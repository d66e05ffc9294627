"""The demo store: realistic customers (Chinese and English names) and two years of orders."""

from __future__ import annotations

import json
import random
import secrets
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from core.customers import service as customer_service
from core.db import db, utcnow
from core.errors import KedaiError
from core.orders import service as order_service
from core.plugins import service as plugin_service
from core.plugins.manager import host
from core.stores.models import StaffUser, Store
from core.stores.service import create_staff, create_store

DEMO_SLUG = "demo"
DEMO_EMAIL = "owner@demo.kedai.test"

_SURNAMES_ZH = "陳林黃張李王吳劉蔡楊許鄭謝郭洪曾邱廖賴周徐蘇葉莊"
_GIVEN_ZH = [
    "志明",
    "淑芬",
    "美玲",
    "家豪",
    "雅婷",
    "冠宇",
    "怡君",
    "俊傑",
    "詩涵",
    "宗翰",
    "佳穎",
    "建宏",
    "欣怡",
    "承恩",
    "子晴",
    "偉倫",
    "嘉欣",
    "文傑",
    "麗華",
    "國強",
]
_FIRST_EN = [
    "Aisyah",
    "Daniel",
    "Mei Ling",
    "Arjun",
    "Sarah",
    "Wei Jie",
    "Nurul",
    "Jason",
    "Priya",
    "Kevin",
    "Siti",
    "Michelle",
    "Hafiz",
    "Grace",
    "Ethan",
    "Farah",
    "Ryan",
]
_LAST_EN = [
    "Tan",
    "Lim",
    "Lee",
    "Wong",
    "Ng",
    "Abdullah",
    "Kumar",
    "Ong",
    "Chong",
    "Rahman",
    "Teo",
    "Goh",
    "Singh",
    "Chan",
    "Yap",
    "Ismail",
]
_PRODUCTS = [
    ("TEA-OOLONG", "凍頂烏龍茶 150g", 3800),
    ("TEA-JASMINE", "Jasmine Green Tea 100g", 2600),
    ("MUG-CLAY", "Handmade Clay Mug", 5900),
    ("SET-GIFT", "禮盒組 Gift Set", 16800),
    ("CAKE-PINE", "鳳梨酥 Pineapple Cake (10)", 4500),
    ("COFFEE-KOPI", "Kopi O Beans 250g", 3200),
    ("TOTE", "Canvas Tote Bag", 2900),
    ("HONEY", "Wild Honey 500g", 6800),
]


def demo_exists() -> bool:
    return db.session.scalar(sa.select(Store.id).where(Store.slug == DEMO_SLUG)) is not None


def _login_file() -> Path:
    return Path(current_app.config["KEDAI_INSTANCE_PATH"]) / "demo-login.json"


def demo_login() -> tuple[str, str]:
    """The demo owner's login, as written when the demo was seeded."""
    try:
        data = json.loads(_login_file().read_text())
        return data["email"], data["password"]
    except (FileNotFoundError, KeyError, ValueError):
        return DEMO_EMAIL, "(unknown: run `kedai seed-demo --reset-password`)"


def seed_demo(customers: int = 300, seed: int = 7) -> tuple[str, str]:
    """Create the demo store once; return the owner's login. Repeatable for a given seed."""
    count = customers
    if demo_exists():
        return demo_login()
    rng = random.Random(seed)
    store = create_store(
        DEMO_SLUG,
        "Kedai Demo Tea House",
        currency="MYR",
        timezone="Asia/Kuala_Lumpur",
        default_phone_region="MY",
    )
    store.test_payments = True
    password = secrets.token_urlsafe(9)
    create_staff(store, DEMO_EMAIL, password, name="Demo Owner", role="owner")
    customer_service.define_field(
        store,
        key="preferred_branch",
        label="Preferred branch",
        field_type="dropdown",
        options=["Kuala Lumpur", "Penang", "Taipei"],
        visibility="signup",
    )
    customer_service.define_field(
        store, key="company", label="Company", field_type="text", visibility="staff"
    )
    for name, description in (
        ("VIP", "Top spenders"),
        ("Wholesale", "Trade buyers"),
        ("Newsletter", "Joined from the newsletter form"),
        ("團購", "Group-buy organisers"),
    ):
        customer_service.create_tag(store, name, description)

    today = utcnow()
    used_emails: set[str] = set()
    for index in range(count):
        chinese = rng.random() < 0.5
        if chinese:
            first, last = rng.choice(_GIVEN_ZH), rng.choice(_SURNAMES_ZH)
            local = f"user{index}"
        else:
            first, last = rng.choice(_FIRST_EN), rng.choice(_LAST_EN)
            local = f"{first.lower().replace(' ', '')}.{last.lower()}{index}"
        email = f"{local}@example.com"
        if email in used_emails:
            continue
        used_emails.add(email)
        phone = f"+601{rng.choice('23679')}{rng.randint(2000000, 9999999)}"
        joined = today - timedelta(days=rng.randint(0, 730), minutes=rng.randint(0, 1440))
        customer = customer_service.create_customer(
            store,
            {
                "email": email,
                "phone": phone if rng.random() < 0.8 else None,
                "first_name": first,
                "last_name": last,
                "birthday": date(rng.randint(1960, 2004), rng.randint(1, 12), rng.randint(1, 28))
                if rng.random() < 0.7
                else None,
                "accepts_marketing": rng.random() < 0.6,
            },
            tags=[t for t in ("VIP", "Wholesale", "Newsletter", "團購") if rng.random() < 0.12],
            custom_fields={"preferred_branch": rng.choice(["Kuala Lumpur", "Penang", "Taipei"])}
            if rng.random() < 0.5
            else None,
            source="import" if rng.random() < 0.3 else "storefront",
            actor="system:demo",
        )
        customer.created_at = joined
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 5, 8])):
            placed = joined + timedelta(days=rng.randint(0, max(1, (today - joined).days)))
            placed = min(placed, today)
            lines = [
                {"sku": sku, "title": title, "unit_price": price, "quantity": rng.randint(1, 3)}
                for sku, title, price in rng.sample(_PRODUCTS, rng.randint(1, 3))
            ]
            order = order_service.create_order(
                store,
                lines=lines,
                customer_id=customer.id,
                shipping_total=rng.choice([0, 800, 1200]),
                placed_at=placed,
                source="storefront",
                actor="system:demo",
            )
            roll = rng.random()
            if roll < 0.9:
                order_service.mark_paid(store, order, paid_at=placed, actor="system:demo")
                if roll < 0.75:
                    order_service.fulfil(store, order, actor="system:demo")
                elif roll < 0.8:
                    order_service.refund(
                        store, order, order.total // 2, reason="Damaged item", actor="system:demo"
                    )
            elif roll < 0.95:
                order_service.cancel(store, order, reason="Changed mind", actor="system:demo")
        if index % 50 == 49:
            db.session.flush()
    # A few guest orders, to show attaching them later.
    for _ in range(5):
        sku, title, price = rng.choice(_PRODUCTS)
        order_service.create_order(
            store,
            lines=[{"sku": sku, "title": title, "unit_price": price, "quantity": 1}],
            email=f"guest{rng.randint(100, 999)}@example.net",
            source="storefront",
            actor="system:demo",
        )
    install_demo_plugins(store)
    db.session.commit()
    login = (DEMO_EMAIL, password)
    path = _login_file()
    path.write_text(json.dumps({"email": login[0], "password": login[1]}))
    path.chmod(0o600)
    return login


def first_party_plugins() -> list[str]:
    """Ids of the loaded plugins that ship with Kedai (the ``plugins`` package)."""
    return sorted(
        plugin_id
        for plugin_id, plugin in host.plugins.items()
        if type(plugin).__module__.split(".")[0] == "plugins"
    )


def install_demo_plugins(store: Store, plugin_ids: list[str] | None = None) -> dict[str, str]:
    """Install ``plugin_ids`` (default: the first-party plugins) into ``store`` and enable each
    one that works without an outside account: one whose settings are valid as they come and
    whose requirements are enabled. The others stay installed and disabled, waiting for the
    merchant's credentials. Returns each plugin's status, or why it could not be installed."""
    plugin_ids = first_party_plugins() if plugin_ids is None else plugin_ids
    status: dict[str, str] = {}
    for plugin_id in plugin_ids:
        try:
            with db.session.begin_nested():
                plugin_service.install(store, plugin_id, consent=True, actor="system:demo")
            status[plugin_id] = "disabled"
        except KedaiError as exc:
            status[plugin_id] = f"not installed: {exc.message}"
    # A plugin may require another listed after it: go round until nothing more enables.
    progress = True
    while progress:
        progress = False
        for plugin_id in plugin_ids:
            if status[plugin_id] != "disabled":
                continue
            try:
                with db.session.begin_nested():
                    plugin_service.enable(store, plugin_id, actor="system:demo")
            except KedaiError:
                continue
            status[plugin_id] = "enabled"
            progress = True
    return status


def owner(store: Store) -> StaffUser | None:
    return db.session.scalar(
        sa.select(StaffUser).where(StaffUser.store_id == store.id, StaffUser.role == "owner")
    )

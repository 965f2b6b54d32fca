"""`manage.py model_cards [--json]`: the active model cards of every app that has some.

An app contributes cards by giving its AppConfig a `model_cards()` method returning a list of
dicts (name, version, kind, disease or task, dataset, synthetic, metrics); prediction gives the
risk models', imaging adds its own. No app imports another for it.
"""

import json
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser


def model_cards_all() -> list[dict[str, Any]]:
    """Every installed app's active model cards, app by app."""
    cards: list[dict[str, Any]] = []
    for config in apps.get_app_configs():
        provider = getattr(config, "model_cards", None)
        if callable(provider):
            cards.extend(provider())
    return cards


class Command(BaseCommand):
    help = "Print the active model cards (risk models, and any other app's), or a JSON list."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print a JSON list.")

    def handle(self, *args: Any, **options: Any) -> None:
        cards = model_cards_all()
        if options["json"]:
            self.stdout.write(json.dumps(cards, indent=2, default=str))
            return
        if not cards:
            self.stdout.write("No active model.")
            return
        for card in cards:
            auroc = card.get("metrics", {}).get("auroc")
            dataset = card.get("dataset")
            dataset_name = dataset.get("name", "") if isinstance(dataset, dict) else dataset
            self.stdout.write(
                f"{card['name']} ({card['kind']}, {card.get('disease') or card.get('task', '')}) "
                f"version {card['version']}: dataset {dataset_name}"
                + (", SYNTHETIC" if card.get("synthetic") else "")
                + (f", AUROC {auroc:.3f}" if isinstance(auroc, int | float) else "")
            )

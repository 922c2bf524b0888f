"""`relance demo`: realistic synthetic actions and commitments, flagged `synthetic`."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.chantiers.schemas import ChantierCreate
from app.chantiers.service import ChantierService
from app.config import Settings
from app.financing.demo import demo_financing_plans
from app.indicators.demo import transport_indicators
from app.milestones.demo import add_demo_milestones
from app.models import Action, Chantier, Commitment, Partner, Programme
from app.models.enums import ActionStatus, CommitmentStatus, Instrument, PartnerKind
from app.partners.schemas import PartnerCreate
from app.partners.service import PartnerService
from app.priorities.schemas import PriorityCreate
from app.priorities.service import PriorityService
from app.programme.repository import ProgrammeRepository
from app.programmes.schemas import ProgrammeCreate
from app.programmes.service import ProgrammeService

# Where each project is (INSEE codes, communes of the Métropole): the place its title names,
# or for a métropole-wide scheme its largest communes.
MARSEILLE, AIX, AUBAGNE, LA_CIOTAT, MARTIGUES = "13055", "13001", "13005", "13028", "13056"
PLACES = {
    "Fonds de soutien au commerce de proximité": [MARSEILLE, AIX, AUBAGNE],
    "Aide aux entreprises du BTP": [MARSEILLE, AIX, MARTIGUES],
    "Relance du tourisme métropolitain": [MARSEILLE, AIX, LA_CIOTAT],
    "Soutien aux clubs sportifs amateurs": [MARSEILLE, "13047", "13103"],  # Istres, Salon
    "Plan de relance culture et spectacle vivant": [MARSEILLE, AIX],
    "Pôle santé Marseille-Est": [MARSEILLE],
    "Plateforme hydrogène vert de Fos": ["13039"],  # Fos-sur-Mer
    "Incubateur medtech d'Aix": [AIX],
    "Réseau de chaleur bas carbone": [MARSEILLE],
    "Pacte de relocalisation industrielle": [MARTIGUES, "13039", "13041"],  # Fos, Gardanne
    "Zone d'activités de Rousset réhabilitée": ["13087"],
    "Fonds de prêts d'honneur pour la relocalisation": [MARSEILLE, AIX],
    "Inclusion numérique dans les quartiers prioritaires": [MARSEILLE, "13117"],  # Vitrolles
    "Écoles connectées": [MARSEILLE, AIX, AUBAGNE],
    "Parcours d'insertion par l'activité économique": [MARSEILLE, "13054"],  # Marignane
    "Tiers-lieux de formation": [AIX, "13063", "84089"],  # Miramas, Pertuis
    "Extension nord du tramway de Marseille": [MARSEILLE],
    "Bus à haut niveau de service Aix-Marseille": [AIX, MARSEILLE],
    "Pôle d'échanges multimodal de Vitrolles": ["13117"],
    "Réseau vélo métropolitain": [MARSEILLE, AIX, AUBAGNE],
    "Renouvellement du parc de bus électriques": [MARSEILLE],
    "Navettes maritimes de la rade": [MARSEILLE],
    "Rénovation énergétique des écoles": [MARSEILLE, AIX],
    "Requalification du centre-ville de Marseille": [MARSEILLE],
    "Éco-quartier de la Ciotat": [LA_CIOTAT],
    "Rénovation de copropriétés dégradées": [MARSEILLE],
    "Ceinture verte métropolitaine": [MARSEILLE, "13071", "13002"],  # Les Pennes, Allauch
    "Protection des terres agricoles de la Crau": ["13047", "13063", "13044"],  # Istres… Grans
    "Parc naturel urbain des Aygalades": [MARSEILLE],
    "Projet alimentaire territorial": [MARSEILLE, AIX, AUBAGNE],
    "Marchés de producteurs locaux": [AUBAGNE, "13103", "84089"],  # Salon, Pertuis
    "Légumerie collective pour la restauration scolaire": [MARSEILLE],
    # The second programme's (relance demo): where such projects of a CRTE would be.
    "Rénovation thermique des gymnases": [MARSEILLE, AUBAGNE],
    "Écoles à énergie positive": [AIX, "13117"],  # Vitrolles
    "Voies vertes du littoral": [LA_CIOTAT, MARTIGUES],
    "Stationnements vélos sécurisés en gare": [MARSEILLE, AIX, AUBAGNE],
}

PROJECTS = {
    1: ["Fonds de soutien au commerce de proximité", "Aide aux entreprises du BTP",
        "Relance du tourisme métropolitain", "Soutien aux clubs sportifs amateurs",
        "Plan de relance culture et spectacle vivant"],
    2: ["Pôle santé Marseille-Est", "Plateforme hydrogène vert de Fos",
        "Incubateur medtech d'Aix", "Réseau de chaleur bas carbone"],
    3: ["Pacte de relocalisation industrielle", "Zone d'activités de Rousset réhabilitée",
        "Fonds de prêts d'honneur pour la relocalisation"],
    4: ["Inclusion numérique dans les quartiers prioritaires", "Écoles connectées",
        "Parcours d'insertion par l'activité économique", "Tiers-lieux de formation"],
    5: ["Extension nord du tramway de Marseille", "Bus à haut niveau de service Aix-Marseille",
        "Pôle d'échanges multimodal de Vitrolles", "Réseau vélo métropolitain",
        "Renouvellement du parc de bus électriques", "Navettes maritimes de la rade"],
    6: ["Rénovation énergétique des écoles", "Requalification du centre-ville de Marseille",
        "Éco-quartier de la Ciotat", "Rénovation de copropriétés dégradées"],
    7: ["Ceinture verte métropolitaine", "Protection des terres agricoles de la Crau",
        "Parc naturel urbain des Aygalades"],
    8: ["Projet alimentaire territorial", "Marchés de producteurs locaux",
        "Légumerie collective pour la restauration scolaire"],
}  # fmt: skip

# The second programme, smaller and later, co-financed by the same Banque des Territoires.
# Its codes and numbers differ from the first's (they need not: they are unique per
# programme), so that a database holding the demo can still be migrated down.
SECOND = {
    "code": "AMP-CRTE-2023-2027",
    "name": "Contrat de relance et de transition écologique de la Métropole",
    "description": "Donnée synthétique de démonstration : un second programme, signé avec "
    "l'État et cofinancé par la Banque des Territoires.",
    "start_year": 2023,
    "end_year": 2027,
    "territory_code": "200054807",
}
SECOND_PRIORITY = ("CRTE_TRANSITION", "La sobriété énergétique des équipements publics")
SECOND_CHANTIERS = {
    9: ("CRTE_RENOVATION", "Rénover les bâtiments publics", "20000000.00",
        ["Rénovation thermique des gymnases", "Écoles à énergie positive"]),
    10: ("CRTE_MOBILITES", "Développer les mobilités douces", None,
         ["Voies vertes du littoral", "Stationnements vélos sécurisés en gare"]),
}  # fmt: skip

DEMO_PARTNERS = [
    ("ETAT", "État (plan France Relance)", PartnerKind.state),
    ("REGION_SUD", "Région Provence-Alpes-Côte d'Azur", PartnerKind.region),
]


@dataclass
class DemoReport:
    actions: int
    commitments: int
    skipped: bool = False

    def __str__(self) -> str:
        if self.skipped:
            return "demo data already present (use --reset to make it again)"
        return f"created {self.actions} synthetic actions and {self.commitments} commitments"


def _beneficiary(instrument: Instrument, year: int, n: int) -> dict[str, str]:
    """A grant's recipient and decision (synthetic: an RNA number, no real SIRET)."""
    if instrument is not Instrument.grant:
        return {}
    return {
        "beneficiary_name": f"Association de démonstration {n}",
        "beneficiary_rna": f"W13{n:07d}",
        "decision_ref": f"DEMO-DEL-{year}-{n:04d}",
    }


def _amount(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 100, high * 100)) / 100


# How an investment's credits are spent after its year: slowly the first year (studies,
# tenders), most in the second and third (works), a tail after (the last invoices).
CURVE = (0.12, 0.34, 0.28, 0.16, 0.10)


def _schedule(rng: random.Random, amount: Decimal, year: int) -> list[tuple[int, Decimal]]:
    """A commitment's yearly lines from its year on (past its programme's end too), summing to
    its amount, cent for cent."""
    weights = [w * rng.uniform(0.7, 1.3) for w in CURVE[: rng.randint(2, len(CURVE))]]
    cents = int(amount * 100)
    shares = [int(cents * w / sum(weights)) for w in weights]
    shares[-1] = cents - sum(shares[:-1])
    return [(year + i, Decimal(c) / 100) for i, c in enumerate(shares) if c > 0]


def _paid_on(rng: random.Random, year: int, today: date) -> date:
    """A day of `year`, never after today."""
    last = min(date(year, 12, 31), today)
    return date(year, 1, 1) + timedelta(days=rng.randint(0, (last - date(year, 1, 1)).days))


async def _second_programme(
    session: AsyncSession, settings: Settings
) -> tuple[Programme, list[tuple[Chantier, list[str]]]]:
    """The second programme, its priority and its chantiers: found, or made."""
    programmes = ProgrammeService(session, settings)
    programme = await programmes.repo.find_by(code=SECOND["code"])
    if programme is None:
        programme = await programmes.create(ProgrammeCreate.model_validate(SECOND))
    priorities = PriorityService(session, settings)
    code, name = SECOND_PRIORITY
    priority = await priorities.repo.find_by(programme_id=programme.id, code=code)
    if priority is None:
        priority = await priorities.create(
            PriorityCreate(programme_id=programme.id, code=code, name=name, position=1)
        )
    chantiers = ChantierService(session, settings)
    made = []
    for number, (code, name, every_year, titles) in SECOND_CHANTIERS.items():
        chantier = await chantiers.repo.find_by(programme_id=programme.id, number=number)
        if chantier is None:
            years = range(programme.start_year, programme.end_year + 1)
            targets = [{"year": y, "amount": every_year} for y in years] if every_year else []
            chantier = await chantiers.create(
                ChantierCreate.model_validate(
                    {
                        "programme_id": programme.id,
                        "number": number,
                        "code": code,
                        "name": name,
                        "priority_ids": [priority.id],
                        "targets": targets,
                    }
                )
            )
        made.append((chantier, titles))
    return programme, made


@dataclass
class _Writer:
    """Writes synthetic actions and their commitments, inside their programme's period."""

    session: AsyncSession
    rng: random.Random
    today: date = field(default_factory=date.today)
    actions: int = 0
    commitments: int = 0
    lines: list[tuple[uuid.UUID, int, Decimal]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)

    async def actions_of(
        self,
        chantier: Chantier,
        titles: list[str],
        programme: Programme,
        funders: list[Partner],
        *,
        big: bool,
    ) -> None:
        rng = self.rng
        years = list(range(programme.start_year, programme.end_year + 1))
        for i, title in enumerate(titles, start=1):
            first = rng.choice(years[:4])
            last = min(years[-1], first + rng.randint(1, 5))
            progress = rng.randint(0, 100)
            status = (
                ActionStatus.completed
                if progress == 100
                else rng.choice([ActionStatus.in_progress] * 5 + [ActionStatus.planned])
            )
            # Statuses that agree with the dates: what ended before today is completed, what
            # starts after it is planned (nothing "in progress" years after its end).
            if date(last, 12, 31) < self.today:
                status, progress = ActionStatus.completed, 100
            elif date(first, 1, 1) > self.today:
                status, progress = ActionStatus.planned, 0
            action = Action(
                code=f"DEMO-C{chantier.number}-{i:02d}",
                chantier_id=chantier.id,
                title=title,
                description="Donnée synthétique de démonstration.",
                status=status.value,
                progress=progress,
                weight=rng.randint(1, 10),
                start_date=date(first, rng.randint(1, 12), 1),
                end_date=date(last, 12, 31),
                communes=PLACES[title],
                lead_partner_id=funders[0].id,
                synthetic=True,
            )
            self.session.add(action)
            await self.session.flush()
            self.actions += 1
            for year in range(first, last + 1):
                for partner in rng.sample(funders, rng.randint(1, min(3, len(funders)))):
                    self._commitment(action, partner, year, title, big=big)

    def _commitment(
        self, action: Action, partner: Partner, year: int, title: str, *, big: bool
    ) -> None:
        rng = self.rng
        amount = _amount(rng, 2_000_000, 40_000_000) if big else _amount(rng, 50_000, 3_000_000)
        state = (
            CommitmentStatus.committed
            if year < 2025
            else rng.choice([CommitmentStatus.planned, CommitmentStatus.committed])
        )
        if rng.random() < 0.05:
            state = CommitmentStatus.cancelled
        instrument = rng.choice(list(Instrument))
        id_ = uuid.uuid4()
        external_ref = f"{action.code}-{year}-{partner.code}"
        schedule = _schedule(rng, amount, year)
        self.lines += [(id_, y, a) for y, a in schedule]
        if state is CommitmentStatus.committed:
            self._payments(id_, partner, external_ref, schedule)
        self.session.add(
            Commitment(
                id=id_,
                action_id=action.id,
                partner_id=partner.id,
                external_ref=external_ref,
                year=year,
                amount=amount,
                instrument=instrument.value,
                status=state.value,
                signed_on=date(year, rng.randint(1, 12), rng.randint(1, 28)),
                label=f"{title} — {partner.code} {year}",
                synthetic=True,
                **_beneficiary(instrument, year, self.commitments + 1),
            )
        )
        self.commitments += 1

    def _payments(
        self, id_: uuid.UUID, partner: Partner, ref: str, schedule: list[tuple[int, Decimal]]
    ) -> None:
        """Dated payments following the schedule up to today: a past year's line mostly
        paid, this year's in proportion to the months gone, now and then money returned."""
        rng = self.rng
        paid: list[tuple[date, Decimal]] = []
        for year, line in schedule:
            if year > self.today.year:
                break
            share = rng.uniform(0.8, 1.0)
            if year == self.today.year:
                share *= self.today.month / 12 * rng.uniform(0.6, 1.0)
            cents = int(line * 100 * Decimal(share))
            parts = rng.randint(1, 3)
            for k in range(parts):
                part = cents // parts + (cents % parts if k == parts - 1 else 0)
                if part > 0:
                    paid.append((_paid_on(rng, year, self.today), Decimal(part) / 100))
        for n, (day, amount) in enumerate(sorted(paid), start=1):
            self.payments.append(self._payment(id_, partner, f"{ref}-P{n}", day, amount))
        if paid and rng.random() < 0.04:  # part of a payment returned, later
            day, amount = rng.choice(paid)
            returned = (amount * Decimal(rng.uniform(0.05, 0.3))).quantize(Decimal("0.01"))
            later = min(self.today, day + timedelta(days=rng.randint(30, 200)))
            if returned > 0:
                self.payments.append(
                    self._payment(id_, partner, f"{ref}-R1", later, returned, "reversal")
                )

    @staticmethod
    def _payment(
        id_: uuid.UUID,
        partner: Partner,
        ref: str,
        day: date,
        amount: Decimal,
        kind: str = "disbursement",
    ) -> dict[str, Any]:
        return {
            "commitment_id": id_,
            "partner_id": partner.id,
            "paid_on": day,
            "amount": amount,
            "kind": kind,
            "external_ref": ref,
            "label": "Donnée synthétique de démonstration.",
            "version": 1,
        }


async def demo(
    session: AsyncSession, settings: Settings, *, reset: bool = False, seed_value: int = 2020
) -> DemoReport:
    """Synthetic actions and commitments in the seeded programme, and a second, smaller
    programme (2023–2027) sharing the partner BDT, so that every screen shows two."""
    repo = ProgrammeRepository(session)
    if reset:
        await repo.delete_synthetic()
    elif await repo.count_synthetic_actions():
        return DemoReport(0, 0, skipped=True)
    rng = random.Random(seed_value)  # noqa: S311 (demo data, not secrets)
    partners = PartnerService(session, settings)
    funders: list[Partner] = []
    for code in ("AMP", "BDT"):
        partner = await partners.repo.find_by(code=code)
        if partner is None:
            raise RuntimeError("run `relance seed` before `relance demo`")
        funders.append(partner)
    for code, name, kind in DEMO_PARTNERS:
        partner = await partners.repo.find_by(code=code)
        if partner is None:
            partner = await partners.create(PartnerCreate(code=code, name=name, kind=kind))
        funders.append(partner)
    first = await ProgrammeService(session, settings).repo.find_by(
        code=settings.programme.first_code
    )
    if first is None:
        raise RuntimeError("run `relance seed` before `relance demo`")

    writer = _Writer(session, rng)
    chantiers = ChantierService(session, settings)
    for number, titles in PROJECTS.items():
        chantier = await chantiers.repo.find_by(programme_id=first.id, number=number)
        if chantier is not None:  # transport (5) carries 350 M€ a year
            await writer.actions_of(chantier, titles, first, funders, big=number == 5)
    second, its_chantiers = await _second_programme(session, settings)
    shared = [p for p in funders if p.code in ("BDT", "ETAT")]
    for chantier, titles in its_chantiers:
        await writer.actions_of(chantier, titles, second, shared, big=False)
    await session.flush()
    # Through the tables, so that the database's own rules run: schedules replace the default
    # line a new commitment may get, payments make its disbursed_amount.
    await repo.write_schedules(writer.lines)
    await repo.write_payments(writer.payments)
    await add_demo_milestones(session, seed_value)
    await demo_financing_plans(session)
    await transport_indicators(session, settings, first, writer.today)
    return DemoReport(writer.actions, writer.commitments)

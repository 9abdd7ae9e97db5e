"""Generating and sealing a mediation agreement, as a ratio to a bare WeasyPrint render of the same HTML measured
in the same run.

    .venv/bin/python benchmarks/agreement_pdf.py [--runs 7]

1. A throw-away SQLite database in a temporary folder (keys and files there too) gets a committee, its mediator,
   a petitioner and two departments as parties, and an agreement of 2–3 pages: the art. 29 sections, eight
   obligations, every party's and the mediator's signature, the committee's seal image, status sealing.
2. Bare: WeasyPrint renders the agreement's final HTML (built once) to PDF bytes.
   Full: what the background job does — the final HTML from the database, WeasyPrint, the PAdES seal with the
   committee's certificate (created on the first, unmeasured, warm-up run), the file stored.
3. Each is run --runs times after one warm-up; the medians, the ratio (target ≤ 1.5) and the page count are
   printed and appended to benchmarks/results/<date>.txt.

A measurement to read, never a test that fails on a number; it is not part of make test.
"""
from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

FACTS = ("申请人陈信访于2026年3月至8月在被申请人承包的东区和平路安置房项目务工，双方口头约定日工资三百元，"
         "按月结算。项目完工后，被申请人以总承包单位未付清工程款为由，拖欠申请人及同班组工友工资共计四万八千元。"
         "申请人多次讨要未果，于2026年10月向市信访局来信反映，信访局经分流转交东区人民调解委员会调解。")
DISPUTES = ("一、拖欠工资的数额；二、总承包单位是否应当先行垫付；三、申请人因讨薪产生的交通费、误工费由谁承担。")
RESPONSIBILITIES = ("被申请人作为劳务分包单位，未按约定按月支付工资，对拖欠工资负主要责任；区住房和城乡建设局"
                    "对项目工资保证金监管不到位，负监管责任；申请人未留存完整考勤记录，对数额争议负次要责任。")


def png() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (300, 300), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((10, 10, 290, 290), outline=(200, 0, 0, 255), width=12)
    draw.regular_polygon((150, 150, 50), 5, fill=(200, 0, 0, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def build(app):
    """The agreement ready to be sealed; returns its id."""
    from werkzeug.datastructures import FileStorage

    from portal.accounts.models import DepartmentKind, Role
    from portal.agreements import documents
    from portal.agreements.drafting import document_hash, parties_snapshot
    from portal.agreements.models import (Agreement, AgreementObligation, AgreementSignature, AgreementStatus,
                                          AgreementVersion, SignatureMark, SignatureStatus, SignerRole)
    from portal.extensions import db
    from portal.mediation.models import (MediationMediator, MediationParty, MediationReferral, MediationStatus,
                                         PartySide)
    from tests.factories import make_case, make_department, make_user

    committee = make_department(name="东区人民调解委员会", code="DQ", kind=DepartmentKind.MEDIATION_COMMITTEE)
    mediator = make_user(Role.MEDIATOR, committee, name="王调解")
    admin = make_user(Role.ADMIN, name="管理员")
    petitioner = make_user(Role.PETITIONER, name="陈信访")
    first = make_department(name="东区和平建筑劳务有限公司")
    second = make_department(name="东区住房和城乡建设局")
    reps = [make_user(Role.DEPARTMENT_REP, first, name="李代表"), make_user(Role.DEPARTMENT_REP, second, name="赵代表")]
    case = make_case(petitioner_user=petitioner, subject="拖欠农民工工资四万八千元")
    matter = MediationReferral(case_id=case.id, committee_id=committee.id, room="第一调解室",
                               status=MediationStatus.AGREEMENT)
    matter.parties = [
        MediationParty(side=PartySide.APPLICANT, petitioner_id=case.petitioners[0].id, name="陈信访",
                       consent_on=date.today(), consent_how="书面同意"),
        MediationParty(side=PartySide.RESPONDENT, department_id=first.id, name=first.name,
                       consent_on=date.today(), consent_how="函复同意"),
        MediationParty(side=PartySide.RESPONDENT, department_id=second.id, name=second.name,
                       consent_on=date.today(), consent_how="函复同意"),
    ]
    matter.mediators = [MediationMediator(user_id=mediator.id)]
    db.session.add(matter)
    db.session.flush()
    db.session.refresh(matter)
    version = AgreementVersion(number=1, facts=FACTS, disputes=DISPUTES, responsibilities=RESPONSIBILITIES,
                               other_terms="本协议履行完毕后，申请人不再就本纠纷向任何机关信访或起诉。本协议一式四份，"
                                           "各方当事人各执一份，调解委员会留存一份。",
                               parties_snapshot="[]", change_note="定稿")
    for position in range(8):
        version.obligations.append(AgreementObligation(
            position=position + 1, party_id=matter.parties[1 + position % 2].id,
            what=f"第{position + 1}期支付拖欠工资人民币六千元整，并提供工资发放明细表",
            manner="银行转账至申请人本人账户", place="东区和平路安置房项目部",
            due_on=date.today() + timedelta(days=15 * (position + 1))))
    agreement = Agreement(referral_id=matter.id, number="DQ-2026-0001", verification_code="BENCH2026A",
                          status=AgreementStatus.SEALING, signing_version=1, effective_on=date.today(),
                          effective_at=datetime.now().astimezone())
    agreement.versions = [version]
    db.session.add(agreement)
    db.session.flush()
    version.parties_snapshot = __import__("json").dumps(parties_snapshot(matter), ensure_ascii=False)
    version.content_hash = document_hash(version)
    agreement.document_hash = version.content_hash
    signature = png()
    signers = [(SignerRole.PARTY, matter.parties[0], petitioner), (SignerRole.PARTY, matter.parties[1], reps[0]),
               (SignerRole.PARTY, matter.parties[2], reps[1]), (SignerRole.MEDIATOR, None, mediator),
               (SignerRole.COMMITTEE, None, mediator)]
    for role, party, user in signers:
        db.session.add(AgreementSignature(
            agreement_id=agreement.id, role=role, party_id=party.id if party else None, user_id=user.id,
            department_id=party.department_id if party else None, signer_name=user.display_name,
            status=SignatureStatus.SIGNED, mark=SignatureMark.DRAWN if role != SignerRole.COMMITTEE else None,
            image_png=signature if role != SignerRole.COMMITTEE else None, document_hash=agreement.document_hash))
    db.session.commit()
    documents.upload_seal_image(committee, FileStorage(io.BytesIO(png()), "seal.png"), admin)
    return agreement.id


def median_time(function, runs: int) -> tuple[float, object]:
    function()  # warm-up: fonts, templates, the certificate on first use
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="agreement-bench-"))
    os.environ.setdefault("SECRET_KEY", "bench-" + os.urandom(8).hex())
    from flask_babel import force_locale
    from flask_migrate import upgrade

    from portal import create_app
    from portal.config import testing

    app = create_app({**testing(f"sqlite:///{folder / 'bench.db'}"), "UPLOAD_FOLDER": str(folder / "uploads"),
                      "PORTAL_KEY_FOLDER": str(folder / "keys"), "PORTAL_BASE_URL": "https://portal.example"})
    with app.app_context(), app.test_request_context(base_url="https://portal.example/"), force_locale("zh_CN"):
        upgrade()
        from pyhanko.pdf_utils.reader import PdfFileReader

        from portal.agreements import documents
        from portal.agreements.services import load_agreement
        from portal.extensions import db

        agreement_id = build(app)
        agreement = load_agreement(agreement_id)
        committee = agreement.referral.committee
        html = documents.document_html(agreement)

        bare_seconds, bare_pdf = median_time(lambda: documents._render_pdf(html), args.runs)

        def generate_and_seal() -> bytes:
            db.session.expire_all()
            fresh = load_agreement(agreement_id)
            sealed = documents.seal_pdf(documents._render_pdf(documents.document_html(fresh)), committee)
            documents._store_pdf(sealed)
            return sealed

        full_seconds, sealed = median_time(generate_and_seal, args.runs)
        pages = len(PdfFileReader(io.BytesIO(bare_pdf)).root["/Pages"]["/Kids"])
        ratio = full_seconds / bare_seconds
        timestamp = "configured" if app.config.get("PORTAL_TSA_URL") else "none"
        lines = [
            f"agreement PDF ({datetime.now():%Y-%m-%d %H:%M}, {platform.node()}, median of {args.runs})",
            f"  pages: {pages}, HTML {len(html) // 1024} KB, sealed PDF {len(sealed) // 1024} KB, "
            f"timestamp {timestamp}",
            f"  bare WeasyPrint render:   {bare_seconds * 1000:8.1f} ms",
            f"  generate + seal + store:  {full_seconds * 1000:8.1f} ms",
            f"  ratio: {ratio:.2f} (target <= 1.5)",
        ]
    shutil.rmtree(folder, ignore_errors=True)
    print("\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / f"{date.today().isoformat()}.txt", "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()

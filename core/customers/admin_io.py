"""Admin pages for importing (C-07) and exporting (C-08) customers.

The upload is saved under the instance folder and imported by a background job; its page polls
a JSON status and shows the report when the job is done. Exports stream straight from the
database to the browser.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from core.customers import importing
from core.customers.exporting import (
    MIMETYPES,
    customer_filter_from_args,
    export_filename,
    iter_export,
)
from core.db import db
from core.errors import NotFound, ValidationError
from core.i18n import lazy_gettext as _l
from core.jobs.models import Job
from core.jobs.service import get_job
from core.web.admin_helpers import current_store, flash_error, staff_actor

bp = Blueprint("customers_io", __name__, url_prefix="/admin/customers")


class ImportForm(FlaskForm):
    file = FileField(_l("CSV or XLSX file"), validators=[FileRequired()])
    encoding = SelectField(
        _l("Encoding (CSV only)"),
        choices=[
            SelectChoice("auto", _l("Detect automatically")),
            SelectChoice("utf-8", "UTF-8"),
            SelectChoice("big5", _l("Big5 (Traditional Chinese)")),
            SelectChoice("gbk", _l("GBK (Simplified Chinese)")),
            SelectChoice("gb18030", "GB18030"),
        ],
        default="auto",
    )
    match = SelectField(
        _l("Update existing customers with the same"),
        choices=[SelectChoice("email", _l("email")), SelectChoice("phone", _l("phone number"))],
        default="email",
    )


def _job(job_id: int) -> Job:
    """The store's import job, or 404 (also for another store's job)."""
    try:
        return get_job(current_store().id, job_id, kind=importing.JOB_KIND)
    except NotFound:
        abort(404)


def _status(job: Job) -> dict[str, Any]:
    result = job.result or {}
    counts = result.get("checkpoint", result)
    state = "failed" if result.get("error") or job.status == "failed" else job.status
    return {
        "id": job.id,
        "status": state,
        "percent": 100 if job.status == "done" else (job.percent or 0),
        "processed": job.progress_done,
        "total": job.progress_total,
        "created": counts.get("created", 0),
        "updated": counts.get("updated", 0),
        "unchanged": counts.get("unchanged", 0),
        "rejected": counts.get("rejected", 0),
        "error": result.get("error") or (job.error if job.status == "failed" else ""),
        "retrying": bool(job.error) and job.status == "pending",
    }


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_start() -> Any:
    """Upload form; a valid upload is saved, queued, and its job page opened."""
    store = current_store()
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            job = importing.start_import(
                store,
                upload.stream,
                upload.filename or "",
                encoding=form.encoding.data,
                match=form.match.data,
                created_by=staff_actor(),
                locale=str(get_locale() or store.locale),
            )
        except ValidationError as error:
            db.session.rollback()
            flash_error(error, form)
        else:
            db.session.commit()
            return redirect(url_for(".import_job", job_id=job.id))
    recent = db.session.scalars(
        sa.select(Job)
        .where(Job.store_id == store.id, Job.kind == importing.JOB_KIND)
        .order_by(Job.id.desc())
        .limit(10)
    ).all()
    return render_template(
        "customers/import.html",
        form=form,
        recent=[(job, _status(job)) for job in recent],
        columns=importing.template_header(store, str(get_locale() or "en")),
    )


@bp.get("/import/<int:job_id>")
@login_required
def import_job(job_id: int) -> str:
    """The import's progress while it runs; its report when it is done."""
    job = _job(job_id)
    return render_template(
        "customers/import_job.html",
        job=job,
        status=_status(job),
        rejected_rows=(job.result or {}).get("rejected_rows", []),
        has_report=importing.job_report_path(current_store(), job) is not None,
        sample_size=importing.REPORT_SAMPLE,
    )


@bp.get("/import/<int:job_id>/status")
@login_required
def import_status(job_id: int) -> Response:
    """The job's state as JSON, polled by the progress page."""
    return jsonify(_status(_job(job_id)))


@bp.get("/import/<int:job_id>/rejected.csv")
@login_required
def import_rejected(job_id: int) -> Response:
    """Every rejected row, with its line and reason, as CSV (UTF-8 with BOM)."""
    job = _job(job_id)
    path = importing.job_report_path(current_store(), job)
    if path is None:
        abort(404)
    return send_file(
        path,
        mimetype=MIMETYPES["csv"],
        as_attachment=True,
        download_name=f"import-{job.id}-rejected.csv",
    )


@bp.get("/import/template.<fmt>")
@login_required
def import_template(fmt: str) -> Response:
    """The import template (CSV with BOM, or XLSX) with the store's custom fields as columns."""
    store = current_store()
    locale = request.args.get("lang") or str(get_locale() or "en")
    if fmt == "csv":
        data = importing.template_csv(store, locale)
    elif fmt == "xlsx":
        data = importing.template_xlsx(store, locale)
    else:
        abort(404)
    return send_file(
        io.BytesIO(data),
        mimetype=MIMETYPES[fmt],
        as_attachment=True,
        download_name=f"customers-import-template.{fmt}",
    )


@bp.get("/export")
@login_required
def export() -> Any:
    """The customers matching the list's filter arguments, streamed as CSV or XLSX."""
    store = current_store()
    fmt = request.args.get("format", "csv")
    if fmt not in MIMETYPES:
        abort(404)
    try:
        chunks = iter_export(store, fmt, customer_filter_from_args(store, request.args))
    except ValidationError as error:
        flash_error(error)
        return redirect(url_for("customers_admin.index"))
    filename = export_filename(store, fmt, datetime.now(ZoneInfo(store.timezone)).date())
    return Response(
        stream_with_context(chunks),
        mimetype=MIMETYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )

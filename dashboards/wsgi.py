"""optuna-dashboard over the study storage as a WSGI application, for a production server.

    STUDY_STORAGE='postgresql+psycopg://study@db:5432/study' STUDY_ARTIFACTS=/shared/artifacts \
        gunicorn --bind 127.0.0.1:8080 --threads 4 --chdir dashboards wsgi:application

The storage comes from ``STUDY_STORAGE`` (else the embedded default under ``runs/``), the artifact
store from ``STUDY_ARTIFACTS`` (else ``artifacts/`` next to the storage), exactly as for
``study dashboard``. The dashboard has no login: bind to loopback, or put an authenticating
proxy in front (see README.md here).
"""

from study.report import dashboard_app

application = dashboard_app(None)

from homecraft_shared.migrations import run_migrations_env
from refunds.models import Base

run_migrations_env(Base.metadata)

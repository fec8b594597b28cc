from catalog.models import Base
from homecraft_shared.migrations import run_migrations_env

run_migrations_env(Base.metadata)

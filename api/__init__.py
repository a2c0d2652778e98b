"""HTTP concerns only: routes, guards, schemas. Business logic lives in the domain packages."""

"""Private glue the Airflow shells share: the wait's drivers, durable submission, the request
builder, the process's shared clients, lineage. Not public API: DAG files import the shells
(``hooks``, ``operators``, ``sensors``, ``triggers``, ``links``) and ``naming``."""

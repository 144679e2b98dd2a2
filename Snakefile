# Placeholder until the workflow issue lands: see workflows/.
rule all:
    input: []

# The HTML report (`snakemake --report report.html`): a front page describing
# the workflow; the figures and metrics are declared with report(...) next to
# the rules that make them (evaluate.smk), one category per dataset and one
# subcategory per model.


report: "../report/workflow.rst"

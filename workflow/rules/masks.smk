# Sampling masks: one config entry and an image shape → .npz (+ PNG preview) (ifrnet.numerics.masks).


rule make_mask:
    input:
        lambda wc: mask_kind(STUDY.masks[wc.mask].spec["kind"]).files(STUDY.masks[wc.mask].spec),
    output:
        npz=paths.mask("{mask}", "{height}", "{width}"),
        png=paths.mask_preview("{mask}", "{height}", "{width}"),
    wildcard_constraints:
        height=r"\d+",
        width=r"\d+",
    params:
        spec=lambda wc: as_json(STUDY.masks[wc.mask].spec),
        seed=STUDY.seed,
    log:
        paths.log("make_mask", "{mask}-{height}x{width}"),
    benchmark:
        paths.benchmark("make_mask", "{mask}-{height}x{width}")
    conda:
        ENV
    shell:
        "ifrnet mask --spec {params.spec:q} --shape {wildcards.height}x{wildcards.width} "
        "--seed {params.seed} --out {output.npz:q} --preview {output.png:q} > {log:q} 2>&1"

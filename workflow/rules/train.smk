# Training of learned models (ifrnet.methods.learned.train_model → ifrnet.methods.training.train),
# one job per run: {run} is MODEL/seed-N, one per training seed of the model (config `seeds`).
# Resumable checkpoints live in {out_dir}/checkpoints/, which is not a declared output, so a
# killed or failed job resumes from its last checkpoint when rerun.
# One thread per job: the default networks are small, and two single-threaded jobs side by side
# train ~2× faster than one job on two threads (profiles/slurm gives training 4).


rule train:
    input:
        train=paths.prepared("{dataset}", "train"),
        val=paths.prepared("{dataset}", "val"),
        mask=mask_for,
    output:
        model=paths.checkpoint("{dataset}", "{mask}", "{run}"),
        train_log=paths.train_log("{dataset}", "{mask}", "{run}"),
    wildcard_constraints:
        run=r"[^/]+/seed-[0-9]+",
    params:
        spec=train_spec,
        seed=run_seed,
        model=lambda wc: paths.parse_run(wc.run)[0],
        out_dir=lambda wc, output: str(Path(output.model).parent),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
        device=DEVICE,
        gpu_slots=GPU_SLOTS,
    log:
        paths.log("train", "{dataset}/{mask}/{run}"),
    benchmark:
        paths.benchmark("train", "{dataset}/{mask}/{run}")
    conda:
        ENV
    shell:
        "ifrnet train --train {input.train:q} --val {input.val:q} --mask {input.mask:q} "
        "--model {params.model:q} --spec {params.spec:q} --out-dir {params.out_dir:q} "
        "--seed {params.seed} --device {resources.device:q} --threads {threads} > {log:q} 2>&1"


rule convert_weights:
    input:
        lambda wc: STUDY.models[wc.model].spec["weights"]["path"],
    output:
        paths.published_checkpoint("{model}"),
    params:
        method=lambda wc: STUDY.models[wc.model].method,
    log:
        paths.log("convert_weights", "{model}"),
    conda:
        ENV
    shell:
        "ifrnet convert-weights --method {params.method:q} --input {input:q} "
        "--model {wildcards.model:q} --out {output:q} > {log:q} 2>&1"

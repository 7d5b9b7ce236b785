from setuptools import find_packages, setup

setup(
    name="paddle_flops_ext",
    version="0.1.0",
    description="Parameters, MACs, FLOPs and measured latency of PaddlePaddle models, per layer and in total",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["paddle_flops_ext", "paddle_flops_ext.*"]),
    package_data={"paddle_flops_ext.llm": ["configs/*.json"]},
    python_requires=">=3.9",
    install_requires=["paddlepaddle>=3.0", "numpy>=1.26", "prettytable"],
    extras_require={
        "test": ["pytest", "hypothesis"],
        "plot": ["matplotlib"],
        # the documentation site (mkdocs.yml); these versions need Python 3.11+
        "docs": ["mkdocs==1.6.1", "mkdocs-material==9.8.2", "mkdocstrings[python]==1.0.8",
                 "mkdocstrings-python==2.0.11"],
    },
    entry_points={"console_scripts": ["paddle-flops=paddle_flops_ext.cli:main"]},
)

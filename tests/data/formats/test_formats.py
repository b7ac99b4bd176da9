"""actattn.data.formats: the FORMATS table agrees with each reader's signature."""
import inspect

from actattn.data.formats import FORMATS


def test_roles_are_reader_keywords():
    assert set(FORMATS) == {"ssv1", "ssv2", "something_else", "epic55", "epic100", "vlog", "charades", "kinetics",
                            "hmdb51", "ucf101", "activitynet", "hacs_clips", "hollywood2", "voc_action", "mpii",
                            "hico", "csv"}
    for spec in FORMATS.values():
        parameters = inspect.signature(spec.reader).parameters
        for role in spec.roles:
            assert role.keyword in parameters, (spec.name, role.keyword)
            assert role.required == (parameters[role.keyword].default is inspect.Parameter.empty), (spec.name, role)
        files = {role.keyword for role in spec.roles}
        needed = {n for n, p in parameters.items() if p.default is inspect.Parameter.empty}
        assert needed <= files, spec.name

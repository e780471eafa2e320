"""The scenario language: course specs of typed modules (`spec`), how a course is laid out
(`layout`), the one trusted builder (`build`), random courses (`generator`), a spec as a family
(`script`) and the offline prompt planner (`planner`)."""

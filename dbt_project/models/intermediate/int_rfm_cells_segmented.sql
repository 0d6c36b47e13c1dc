-- Every RFM cell (r_score × f_score × m_score, 1..rfm_bins each) with its segment from
-- the analyst-editable seed rfm_segment_map: the matching rule with the lowest priority.
-- A cell no rule covers keeps a null segment, which the not_null_columns test reports.
with

scores as (

    select cast(generated_number as integer) as score
    from ({{ dbt.generate_series(var('rfm_bins') | int) }}) as series

),

cells as (

    select
        r.score as r_score,
        f.score as f_score,
        m.score as m_score
    from scores as r
    cross join scores as f
    cross join scores as m

),

rules as (

    select * from {{ ref('rfm_segment_map') }}

),

matched as (

    select
        cells.r_score,
        cells.f_score,
        cells.m_score,
        rules.segment,
        rules.priority,
        row_number() over (
            partition by cells.r_score, cells.f_score, cells.m_score
            order by rules.priority
        ) as rule_rank
    from cells
    left join rules
        on cells.r_score between rules.r_min and rules.r_max
        and cells.f_score between rules.f_min and rules.f_max
        and cells.m_score between rules.m_min and rules.m_max

)

select
    r_score,
    f_score,
    m_score,
    {{ dbt.concat([
        dbt.safe_cast("r_score", api.Column.translate_type("string")),
        dbt.safe_cast("f_score", api.Column.translate_type("string")),
        dbt.safe_cast("m_score", api.Column.translate_type("string"))]) }} as rfm_cell,
    segment,
    priority as segment_rule_priority
from matched
where rule_rank = 1

{#- Quantile scores 1..bins, portable (no ntile, whose tie handling differs by engine).

    method 'rank' (default): tied values get the same score, the score of the first
        row of the tie group: floor((rank - 1) * bins / n) + 1. Deterministic without
        a tie-breaker; bins can be uneven when many values tie (e.g. frequency 1).
    method 'row_number': strict equal-sized bins; ties are broken by `tie_breaker`
        (customer_key), so equal values can get different, but always the same, scores.

    `order_by` sorts worst first: the first rows get score 1. -#}
{% macro score_bin(order_by, partition_by, bins, method, tie_breaker) -%}
    {%- if method == 'rank' -%}
        {%- set position = 'rank() over (partition by ' ~ partition_by ~ ' order by ' ~ order_by ~ ')' -%}
    {%- elif method == 'row_number' -%}
        {%- set position = 'row_number() over (partition by ' ~ partition_by ~ ' order by ' ~ order_by ~ ', ' ~ tie_breaker ~ ')' -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("rfm_tie_method must be 'rank' or 'row_number', got " ~ method) }}
    {%- endif -%}
    (cast(floor(cast({{ position }} - 1 as double) * {{ bins }}
        / count(*) over (partition by {{ partition_by }})) as integer) + 1)
{%- endmacro %}


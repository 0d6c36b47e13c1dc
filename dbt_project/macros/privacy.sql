{#- Privacy helpers. Raw PII never reaches the marts: it is hashed or masked here.
    Engine-specific functions sit behind adapter.dispatch so the project ports
    to other engines (Spark: sha2). The salt comes from the CRM_PII_SALT env var,
    which the job sets from config; it is never stored in the repository. -#}

{#- Read only while dbt executes: an env var dbt reads while parsing is stored with its
    value in the manifest and the parse cache, and a different value re-parses its users. -#}
{% macro pii_salt() -%}
    {{ return(env_var('CRM_PII_SALT') if execute else '') }}
{%- endmacro %}

{% macro hash_pii(expr) -%}
    {{ return(adapter.dispatch('hash_pii', 'crm_warehouse')(expr)) }}
{%- endmacro %}

{% macro default__hash_pii(expr) -%}
    case when {{ expr }} is null then null
         else sha2({{ dbt.concat(["'" ~ pii_salt() ~ "'", expr]) }}, 256) end
{%- endmacro %}

{% macro duckdb__hash_pii(expr) -%}
    case when {{ expr }} is null then null
         else sha256({{ dbt.concat(["'" ~ pii_salt() ~ "'", expr]) }}) end
{%- endmacro %}

{#- First letter, then asterisks: enough for a call-centre agent to greet, not to identify. -#}
{% macro mask_name(expr) -%}
    case when {{ expr }} is null or {{ dbt.length(expr) }} = 0 then null
         else {{ dbt.concat(["substring(" ~ expr ~ ", 1, 1)", "'***'"]) }} end
{%- endmacro %}
